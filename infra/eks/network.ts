import * as aws from '@pulumi/aws';
import type * as pulumi from '@pulumi/pulumi';

/** The VPC's range: nodes, pods (VPC CNI) and the load balancer's own addresses are all in it. */
export const VPC_CIDR = '10.42.0.0/16';
const SUBNETS = ['10.42.0.0/20', '10.42.16.0/20'];
/**
 * The ALB's own subnets, one a zone (AWS's minimum is a /27): no node is in them, so no pod has an address
 * there, and the web pods can believe X-Forwarded-For from these ranges only.
 */
export const LOAD_BALANCER_SUBNETS = ['10.42.32.0/24', '10.42.33.0/24'];
/** The zones the subnets, nodes and load balancer span: one per subnet. */
export const ZONE_COUNT = SUBNETS.length;

export interface EksNetworkArgs {
  /** The EKS cluster's name: the VPC and subnets are named and tagged after it. */
  readonly clusterName: string;
}

export interface EksNetwork {
  readonly vpc: aws.ec2.Vpc;
  /** One public subnet a zone, in zone order: the first is the database volume's zone. */
  readonly subnets: aws.ec2.Subnet[];
  /** The load balancer's subnets, one a zone, tagged for the AWS Load Balancer Controller to find. */
  readonly loadBalancerSubnets: aws.ec2.Subnet[];
  /** The zones of the subnets, in the same order. */
  readonly zones: pulumi.Output<string[]>;
  /** Every resource of the network: the cluster is deleted before any of them. */
  readonly resources: pulumi.Resource[];
}

/**
 * The cluster's own VPC: public subnets in two zones and an internet gateway, no NAT gateway (it would
 * cost more than both nodes). `name` is the owning component's, which stays the parent of each resource.
 */
export function eksNetwork(name: string, args: EksNetworkArgs, parent: pulumi.Resource): EksNetwork {
  const opts = { parent };
  const clusterTag = { [`kubernetes.io/cluster/${args.clusterName}`]: 'shared' };
  const vpc = new aws.ec2.Vpc(
    `${name}-vpc`,
    { cidrBlock: VPC_CIDR, enableDnsHostnames: true, enableDnsSupport: true, tags: { Name: args.clusterName } },
    opts,
  );
  const gateway = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id }, opts);
  const routes = new aws.ec2.RouteTable(
    `${name}-public`,
    { vpcId: vpc.id, routes: [{ cidrBlock: '0.0.0.0/0', gatewayId: gateway.id }] },
    opts,
  );
  // Zones that need no opt-in (never a Local Zone), whatever their state: a state change must not reorder
  // them and so move the subnets, the cluster and the database's disk.
  const zones = aws
    .getAvailabilityZonesOutput({ filters: [{ name: 'opt-in-status', values: ['opt-in-not-required'] }] }, opts)
    .names.apply((names) => [...names].sort());
  const resources: pulumi.Resource[] = [vpc, gateway, routes];
  const publicSubnet = (suffix: string, cidrBlock: string, index: number, tags: Record<string, string>) => {
    const subnet = new aws.ec2.Subnet(
      `${name}-${suffix}-${index}`,
      {
        vpcId: vpc.id,
        cidrBlock,
        availabilityZone: zones[index],
        mapPublicIpOnLaunch: true,
        tags: { ...clusterTag, ...tags, Name: `${args.clusterName}-${suffix}-${index}` },
      },
      opts,
    );
    resources.push(
      subnet,
      new aws.ec2.RouteTableAssociation(
        `${name}-${suffix}-${index}`,
        { subnetId: subnet.id, routeTableId: routes.id },
        opts,
      ),
    );
    return subnet;
  };
  const subnets = SUBNETS.map((cidrBlock, index) => publicSubnet('public', cidrBlock, index, {}));
  // Where the AWS Load Balancer Controller puts internet-facing load balancers: these subnets only.
  const loadBalancerSubnets = LOAD_BALANCER_SUBNETS.map((cidrBlock, index) =>
    publicSubnet('load-balancer', cidrBlock, index, { 'kubernetes.io/role/elb': '1' }),
  );
  return { vpc, subnets, loadBalancerSubnets, zones, resources };
}
