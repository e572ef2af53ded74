import { join } from 'node:path';
import { CloudWatchLogsClient, paginateDescribeLogGroups } from '@aws-sdk/client-cloudwatch-logs';
import {
  EC2Client,
  type Filter,
  paginateDescribeNetworkInterfaces,
  paginateDescribeSecurityGroups,
  paginateDescribeSnapshots,
  paginateDescribeVolumes,
  paginateDescribeVpcs,
  type Tag,
} from '@aws-sdk/client-ec2';
import { ECRClient, paginateDescribeRepositories } from '@aws-sdk/client-ecr';
import {
  DescribeTagsCommand,
  ElasticLoadBalancingClient,
  paginateDescribeLoadBalancers,
} from '@aws-sdk/client-elastic-load-balancing';
import { paginateGetResources, ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import { stackConfig } from './stack-config';

/** What a stack of this program leaves in AWS, and how much of it is meant to stay. */
export interface Footprint {
  /** The stack's name: its cluster is `two-tier-<stack>`, its tags and repositories carry it. */
  readonly stack: string;
  /** Snapshots kept per engine (`dbSnapshotsKept`): destroy prunes to this many. */
  readonly keep: number;
  /** The snapshot `dbSnapshot` names, which the prune never deletes. */
  readonly pinned?: string;
}

export interface Leftover {
  kind: string;
  id: string;
  detail: string;
}

export interface AwsClients {
  ec2: EC2Client;
  elb: ElasticLoadBalancingClient;
  logs: CloudWatchLogsClient;
  ecr: ECRClient;
  tagging: ResourceGroupsTaggingAPIClient;
}

/** DescribeTags takes at most 20 load balancer names a call. */
const ELB_TAGS_PER_CALL = 20;
const STACK_TAG = 'two-tier/stack';
const ENGINE_TAG = 'two-tier/engine';
/** The AWS Load Balancer Controller tags every ALB, target group and security group it makes with its cluster. */
const CONTROLLER_CLUSTER_TAG = 'elbv2.k8s.aws/cluster';
const CONTROLLER_KINDS: Record<string, string> = {
  'loadbalancer/app': 'application load balancer',
  'loadbalancer/net': 'network load balancer',
  targetgroup: 'target group',
  'security-group': 'security group',
};

const tagOf = (tags: Tag[] | undefined, key: string) => tags?.find((tag) => tag.Key === key)?.Value;

/** `arn:aws:elasticloadbalancing:R:A:loadbalancer/app/NAME/ID` is an application load balancer, and so on. */
function controllerLeftover(arn: string, tags: Tag[] | undefined): Leftover {
  const resource = arn.split(':').slice(5).join(':');
  const [type = '', subtype = ''] = resource.split('/');
  const kind = CONTROLLER_KINDS[`${type}/${subtype}`] ?? CONTROLLER_KINDS[type] ?? type;
  const owner = tagOf(tags, 'ingress.k8s.aws/stack') ?? tagOf(tags, 'elbv2.k8s.aws/resource') ?? '';
  return { kind, id: type === 'security-group' ? resource.slice(type.length + 1) : arn, detail: owner };
}

async function all<Page, Item>(pages: AsyncIterable<Page>, items: (page: Page) => Item[] | undefined): Promise<Item[]> {
  const found: Item[] = [];
  for await (const page of pages) found.push(...(items(page) ?? []));
  return found;
}

/**
 * Everything of the stack still in the account: the cluster's load balancers, target groups and security groups
 * (tagged for it by the AWS Load Balancer Controller, the in-tree controller and EKS), the network interfaces and
 * VPC, the data disks and the snapshots beyond the kept ones, the control-plane log group and the image
 * repositories. Empty after a clean destroy.
 */
export async function findLeftovers(clients: AwsClients, footprint: Footprint): Promise<Leftover[]> {
  const cluster = `two-tier-${footprint.stack}`;
  const clusterTag = `kubernetes.io/cluster/${cluster}`;
  const { ec2, elb, logs, ecr, tagging } = clients;
  const ec2Pages = {
    vpcs: (Filters: Filter[]) => paginateDescribeVpcs({ client: ec2 }, { Filters }),
    volumes: (Filters: Filter[]) => paginateDescribeVolumes({ client: ec2 }, { Filters }),
  };

  const vpcs = await all(ec2Pages.vpcs([{ Name: 'tag:Name', Values: [cluster] }]), (page) => page.Vpcs);
  const vpcIds = vpcs.flatMap((vpc) => (vpc.VpcId ? [vpc.VpcId] : []));
  const interfaces = vpcIds.length
    ? await all(
        paginateDescribeNetworkInterfaces({ client: ec2 }, { Filters: [{ Name: 'vpc-id', Values: vpcIds }] }),
        (page) => page.NetworkInterfaces,
      )
    : [];

  const balancers = await all(
    paginateDescribeLoadBalancers({ client: elb }, {}),
    (page) => page.LoadBalancerDescriptions,
  );
  const names = balancers.flatMap((balancer) => (balancer.LoadBalancerName ? [balancer.LoadBalancerName] : []));
  const tagged = new Set<string>();
  for (let start = 0; start < names.length; start += ELB_TAGS_PER_CALL) {
    const answer = await elb.send(
      new DescribeTagsCommand({ LoadBalancerNames: names.slice(start, start + ELB_TAGS_PER_CALL) }),
    );
    for (const description of answer.TagDescriptions ?? []) {
      if (description.LoadBalancerName && description.Tags?.some((tag) => tag.Key === clusterTag)) {
        tagged.add(description.LoadBalancerName);
      }
    }
  }

  const groups = await all(
    paginateDescribeSecurityGroups({ client: ec2 }, { Filters: [{ Name: 'tag-key', Values: [clusterTag] }] }),
    (page) => page.SecurityGroups,
  );

  // One query for all three kinds; its index may lag a deletion briefly, which shows a thing as left, never hides one.
  const controllerObjects = await all(
    paginateGetResources({ client: tagging }, { TagFilters: [{ Key: CONTROLLER_CLUSTER_TAG, Values: [cluster] }] }),
    (page) => page.ResourceTagMappingList,
  );

  const volumes = new Map(
    (
      await Promise.all([
        all(ec2Pages.volumes([{ Name: `tag:${STACK_TAG}`, Values: [footprint.stack] }]), (page) => page.Volumes),
        all(ec2Pages.volumes([{ Name: 'tag-key', Values: [clusterTag] }]), (page) => page.Volumes),
      ])
    )
      .flat()
      .map((volume) => [volume.VolumeId, volume]),
  );

  const snapshots = await all(
    paginateDescribeSnapshots(
      { client: ec2 },
      { OwnerIds: ['self'], Filters: [{ Name: `tag:${STACK_TAG}`, Values: [footprint.stack] }] },
    ),
    (page) => page.Snapshots,
  );
  const byEngine = new Map<string, typeof snapshots>();
  for (const snapshot of snapshots) {
    const engine = tagOf(snapshot.Tags, ENGINE_TAG) ?? '(no engine tag)';
    byEngine.set(engine, [...(byEngine.get(engine) ?? []), snapshot]);
  }
  const extraSnapshots = [...byEngine.entries()].flatMap(([engine, list]) =>
    list
      .sort((a, b) => (b.StartTime?.getTime() ?? 0) - (a.StartTime?.getTime() ?? 0))
      .slice(footprint.keep)
      .filter((snapshot) => snapshot.SnapshotId !== footprint.pinned)
      .map((snapshot) => ({ engine, snapshot })),
  );

  const logGroups = await all(
    paginateDescribeLogGroups({ client: logs }, { logGroupNamePrefix: `/aws/eks/${cluster}/` }),
    (page) => page.logGroups,
  );
  const repositories = (
    await all(paginateDescribeRepositories({ client: ecr }, {}), (page) => page.repositories)
  ).filter((repository) => repository.repositoryName?.startsWith(`${cluster}/`));

  return [
    ...balancers
      .filter((balancer) => tagged.has(balancer.LoadBalancerName ?? ''))
      .map((balancer) => ({
        kind: 'load balancer',
        id: balancer.LoadBalancerName ?? '',
        detail: balancer.DNSName ?? '',
      })),
    ...controllerObjects.map((mapping) => controllerLeftover(mapping.ResourceARN ?? '', mapping.Tags)),
    ...groups.map((group) => ({ kind: 'security group', id: group.GroupId ?? '', detail: group.GroupName ?? '' })),
    ...interfaces.map((eni) => ({
      kind: 'network interface',
      id: eni.NetworkInterfaceId ?? '',
      detail: `${eni.Status ?? ''} ${eni.Description ?? ''}`.trim(),
    })),
    ...[...volumes.values()].map((volume) => ({
      kind: 'EBS volume',
      id: volume.VolumeId ?? '',
      detail: `${volume.Size ?? '?'} GiB ${volume.State ?? ''}`.trim(),
    })),
    ...extraSnapshots.map(({ engine, snapshot }) => ({
      kind: 'EBS snapshot',
      id: snapshot.SnapshotId ?? '',
      detail: `${engine}, ${snapshot.StartTime?.toISOString() ?? ''}, beyond the newest ${footprint.keep}`,
    })),
    ...logGroups.map((group) => ({
      kind: 'log group',
      id: group.logGroupName ?? '',
      detail: `${group.storedBytes ?? 0} bytes`,
    })),
    ...repositories.map((repository) => ({
      kind: 'ECR repository',
      id: repository.repositoryName ?? '',
      detail: repository.repositoryUri ?? '',
    })),
    ...vpcs.map((vpc) => ({ kind: 'VPC', id: vpc.VpcId ?? '', detail: vpc.CidrBlock ?? '' })),
  ];
}

/** The stack's footprint and region from its config files, as `pulumi` would read them. */
export function footprintOf(repo: string, stack: string): Footprint & { region: string } {
  const { config } = stackConfig(repo, stack);
  if (config['two-tier:target'] !== 'eks') {
    throw new Error(`stack ${stack} targets a local cluster: it has nothing in AWS`);
  }
  const region = config['aws:region'];
  if (!region) throw new Error(`stack ${stack} sets no aws:region`);
  const pinned = config['two-tier:dbSnapshot'];
  return {
    stack,
    region,
    keep: Number(config['two-tier:dbSnapshotsKept']),
    ...(pinned?.startsWith('snap-') ? { pinned } : {}),
  };
}

/** One line a leftover, and the exit code: 0 when nothing is left, 1 when something is. */
export function report(stack: string, leftovers: Leftover[]): { lines: string[]; exitCode: number } {
  if (leftovers.length === 0) return { lines: [`two-tier: nothing of stack ${stack} is left in AWS`], exitCode: 0 };
  return {
    lines: [
      `two-tier: ${leftovers.length} thing(s) of stack ${stack} left in AWS after destroy:`,
      ...leftovers.map((leftover) => `  ${leftover.kind} ${leftover.id} ${leftover.detail}`.trimEnd()),
    ],
    exitCode: 1,
  };
}

async function main(stack: string | undefined): Promise<number> {
  if (!stack) {
    console.error('usage: npm run leftovers -- <stack>');
    return 2;
  }
  const { region, ...footprint } = footprintOf(join(__dirname, '..'), stack);
  const clients = {
    ec2: new EC2Client({ region }),
    elb: new ElasticLoadBalancingClient({ region }),
    logs: new CloudWatchLogsClient({ region }),
    ecr: new ECRClient({ region }),
    tagging: new ResourceGroupsTaggingAPIClient({ region }),
  };
  const { lines, exitCode } = report(stack, await findLeftovers(clients, footprint));
  for (const line of lines) (exitCode ? console.error : console.log)(line);
  return exitCode;
}

if (require.main === module) {
  main(process.argv[2]).then(
    (code) => {
      process.exitCode = code;
    },
    (error: Error) => {
      console.error(`two-tier: could not list what is left of stack ${process.argv[2]}: ${error.message}`);
      process.exitCode = 2;
    },
  );
}
