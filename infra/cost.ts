import { instanceType } from './instance-types';

/** STANDARD: the version's first 14 months; EXTENDED: the 12 after, at six times the control plane's price. */
export type EksSupportType = 'STANDARD' | 'EXTENDED';

/**
 * When EKS ends standard support of the versions this program offers (14 months after EKS released them:
 * 1.34 on 2025-10-02, 1.35 on 2026-01-27; docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html).
 */
export const STANDARD_SUPPORT_ENDS: Record<string, string> = { '1.34': '2026-12-02', '1.35': '2027-03-27' };

/**
 * Monthly prices in ap-south-1 (Mumbai), USD, from the AWS public price list as of 2026-11-01
 * (https://aws.amazon.com/eks/pricing/, /ec2/pricing/on-demand/, /ebs/pricing/ (gp3 volumes; snapshots in
 * the standard tier), /vpc/pricing/). Usage-based charges (data transfer, the control-plane logs' CloudWatch
 * ingestion) are not included (`notIncluded` names them), except the ALB's LCUs (estimated below); nor are
 * T3 surplus CPU credits, which the nodes never spend: their launch template sets standard credits
 * (infra/eks/node-groups.ts), so sustained CPU above the baseline is throttled, not billed.
 *
 * Estimates, not confirmed for ap-south-1: the ALB hour and LCU hour are the us-east-1 example of
 * aws.amazon.com/elasticloadbalancing/pricing/ ($0.0225 and $0.008), the hosted zone's fee is Route 53's
 * (not regional; aws.amazon.com/route53/pricing/, read from third-party copies). `aws pricing get-products
 * --service-code AWSELB` with regionCode ap-south-1 gives the confirmed ALB figures.
 */
export const PRICES = {
  date: '2026-11-01',
  hoursPerMonth: 730,
  eksControlPlaneHourly: { STANDARD: 0.1, EXTENDED: 0.6 },
  gp3GibMonth: 0.0912,
  ebsSnapshotGibMonth: 0.05,
  applicationLoadBalancerHourlyEstimate: 0.0225,
  lcuHourlyEstimate: 0.008,
  hostedZoneMonthlyEstimate: 0.5,
  publicIpv4Hourly: 0.005,
  /** Per GB of logs ingested (standard class); us-east-1's list price (ap-south-1's was not read from a source here). */
  cloudWatchLogsIngestionGb: 0.5,
} as const;

/**
 * The dev load in LCUs, an upper bound: one LCU is 25 new connections a second, 3,000 active a minute,
 * 1 GB an hour to the pods or 1,000 rule evaluations a second, billed on the largest; a message board under
 * test uses a fraction of one.
 */
export const DEV_LOAD_LCU = 1;

export interface CostInput {
  supportType: EksSupportType;
  instanceType: string;
  /** The data node group's one node's type; the other nodeCount - 1 are instanceType. */
  dataInstanceType: string;
  nodeCount: number;
  nodeVolumeSizeGi: number;
  dbVolumeSizeGi: number;
  /** The zones the load balancer is enabled in: it holds a public IPv4 address in each. */
  zones: number;
  /** Whether the program makes records in a Route 53 hosted zone (a domain is configured). */
  domain: boolean;
  /** Snapshots of the database disk kept per stack and engine. */
  snapshotsKept: number;
  /** Engines whose snapshots are kept: after an engine switch both keep `snapshotsKept`. */
  engines: number;
}

export interface CostBreakdown {
  controlPlane: number;
  nodes: number;
  nodeVolumes: number;
  nodePublicIps: number;
  databaseVolume: number;
  /** At most: every engine's kept snapshots, each priced as a full copy of the disk (they are incremental, so usually far less). */
  databaseSnapshots: number;
  loadBalancer: number;
  /** Estimated at DEV_LOAD_LCU all month. */
  loadBalancerCapacityUnits: number;
  loadBalancerPublicIps: number;
  /** The zone's monthly fee, where the program's records are; 0 without a domain. */
  hostedZone: number;
  total: number;
}

const cents = (value: number) => Math.round(value * 100) / 100;

/** What the eks stack costs a month while it runs, from its own settings. */
export function monthlyCost(input: CostInput): CostBreakdown {
  const hours = PRICES.hoursPerMonth;
  const parts = {
    controlPlane: PRICES.eksControlPlaneHourly[input.supportType] * hours,
    nodes:
      (instanceType(input.dataInstanceType).hourlyUsd +
        instanceType(input.instanceType).hourlyUsd * (input.nodeCount - 1)) *
      hours,
    nodeVolumes: PRICES.gp3GibMonth * input.nodeVolumeSizeGi * input.nodeCount,
    // Nodes in public subnets have a public IPv4 address each, billed since 2024.
    nodePublicIps: PRICES.publicIpv4Hourly * hours * input.nodeCount,
    databaseVolume: PRICES.gp3GibMonth * input.dbVolumeSizeGi,
    databaseSnapshots: PRICES.ebsSnapshotGibMonth * input.dbVolumeSizeGi * input.snapshotsKept * input.engines,
    loadBalancer: PRICES.applicationLoadBalancerHourlyEstimate * hours,
    loadBalancerCapacityUnits: PRICES.lcuHourlyEstimate * DEV_LOAD_LCU * hours,
    loadBalancerPublicIps: PRICES.publicIpv4Hourly * hours * input.zones,
    hostedZone: input.domain ? PRICES.hostedZoneMonthlyEstimate : 0,
  };
  const rounded = Object.fromEntries(Object.entries(parts).map(([key, value]) => [key, cents(value)])) as Omit<
    CostBreakdown,
    'total'
  >;
  return { ...rounded, total: cents(Object.values(parts).reduce((sum, value) => sum + value, 0)) };
}

/** What the estimate leaves out that this stack's settings bill: one line for the preview's output. */
export function notIncluded(controlPlaneLogs: boolean): string {
  return (
    'estimatedMonthlyCostUsd leaves out usage-based charges: data transfer, load balancer traffic' +
    (controlPlaneLogs
      ? `, and CloudWatch ingestion of the control-plane logs (api, audit, authenticator) at $${PRICES.cloudWatchLogsIngestionGb} per GB`
      : '')
  );
}
