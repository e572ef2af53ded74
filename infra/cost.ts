import { instanceType } from './instance-types';

/**
 * Monthly prices in ap-south-1 (Mumbai), USD, from the AWS public price list as of 2026-11-01
 * (https://aws.amazon.com/eks/pricing/, /ec2/pricing/on-demand/, /ebs/pricing/, /elasticloadbalancing/pricing/,
 * /vpc/pricing/). Usage-based charges (data transfer, load balancer traffic, CloudWatch ingestion) are
 * not included.
 */
export const PRICES = {
  date: '2026-11-01',
  hoursPerMonth: 730,
  eksControlPlaneHourly: 0.1,
  gp3GibMonth: 0.0912,
  classicLoadBalancerHourly: 0.0283,
  publicIpv4Hourly: 0.005,
} as const;

export interface CostInput {
  instanceType: string;
  nodeCount: number;
  nodeVolumeSizeGi: number;
  dbVolumeSizeGi: number;
}

export interface CostBreakdown {
  controlPlane: number;
  nodes: number;
  nodeVolumes: number;
  nodePublicIps: number;
  databaseVolume: number;
  loadBalancer: number;
  total: number;
}

const cents = (value: number) => Math.round(value * 100) / 100;

/** What the eks stack costs a month while it runs, from its own settings. */
export function monthlyCost(input: CostInput): CostBreakdown {
  const hours = PRICES.hoursPerMonth;
  const parts = {
    controlPlane: PRICES.eksControlPlaneHourly * hours,
    nodes: instanceType(input.instanceType).hourlyUsd * hours * input.nodeCount,
    nodeVolumes: PRICES.gp3GibMonth * input.nodeVolumeSizeGi * input.nodeCount,
    // Nodes in public subnets have a public IPv4 address each, billed since 2024.
    nodePublicIps: PRICES.publicIpv4Hourly * hours * input.nodeCount,
    databaseVolume: PRICES.gp3GibMonth * input.dbVolumeSizeGi,
    loadBalancer: PRICES.classicLoadBalancerHourly * hours,
  };
  const rounded = Object.fromEntries(Object.entries(parts).map(([key, value]) => [key, cents(value)])) as Omit<
    CostBreakdown,
    'total'
  >;
  return { ...rounded, total: cents(Object.values(parts).reduce((sum, value) => sum + value, 0)) };
}
