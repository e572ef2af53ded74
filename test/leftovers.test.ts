import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { EC2Client, type Snapshot } from '@aws-sdk/client-ec2';
import { ECRClient } from '@aws-sdk/client-ecr';
import { ElasticLoadBalancingClient } from '@aws-sdk/client-elastic-load-balancing';
import { ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import { findLeftovers, footprintOf, type Leftover, report } from '../infra/leftovers';
import { ACCOUNT_ID, type AccountState, FakeAccount } from './support/aws-account';
import { REPO } from './support/server-process';

const CLUSTER_TAG = 'kubernetes.io/cluster/two-tier-eks';
const STAGING_TAG = 'kubernetes.io/cluster/two-tier-staging';

const snapshot = (id: string, day: number, tags: Record<string, string>, owner = ACCOUNT_ID): Snapshot => ({
  SnapshotId: id,
  OwnerId: owner,
  StartTime: new Date(Date.UTC(2026, 10, day, 14, 40)),
  State: 'completed',
  Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
});
const ours = (engine: string) => ({ 'two-tier/stack': 'eks', 'two-tier/engine': engine });
const tags = (entries: Record<string, string>) => Object.entries(entries).map(([Key, Value]) => ({ Key, Value }));

const ARN = `arn:aws:elasticloadbalancing:ap-south-1:${ACCOUNT_ID}`;
/** What the AWS Load Balancer Controller of cluster `two-tier-<stack>` tags its ALB, target group and groups with. */
function controllerObjects(stack: string, id: string) {
  const cluster = `two-tier-${stack}`;
  const owned = (extra: Record<string, string>) =>
    tags({ 'elbv2.k8s.aws/cluster': cluster, 'two-tier/stack': stack, ...extra });
  const ingress = { 'ingress.k8s.aws/stack': `${cluster}/web-ingress`, 'ingress.k8s.aws/resource': 'LoadBalancer' };
  return [
    { ResourceARN: `${ARN}:loadbalancer/app/k8s-${stack}-webingre-${id}/50dc6c495c0c9188`, Tags: owned(ingress) },
    {
      ResourceARN: `${ARN}:targetgroup/k8s-${stack}-webweb-${id}/73e2d6bc24d8a067`,
      Tags: owned({ ...ingress, 'ingress.k8s.aws/resource': `${cluster}/web-ingress-web-web:80` }),
    },
    {
      ResourceARN: `arn:aws:ec2:ap-south-1:${ACCOUNT_ID}:security-group/sg-0${stack}ingress`,
      Tags: owned({ ...ingress, 'ingress.k8s.aws/resource': 'ManagedLBSecurityGroup' }),
    },
    {
      ResourceARN: `arn:aws:ec2:ap-south-1:${ACCOUNT_ID}:security-group/sg-0${stack}traffic`,
      Tags: owned({ 'elbv2.k8s.aws/resource': 'backend-sg' }),
    },
  ];
}

/** What a clean destroy leaves: other stacks' and other teams' things, and the eks stack's kept snapshots. */
function cleanAccount(): AccountState {
  return {
    vpcs: [{ VpcId: 'vpc-0staging', CidrBlock: '10.42.0.0/16', Tags: tags({ Name: 'two-tier-staging' }) }],
    networkInterfaces: [
      {
        NetworkInterfaceId: 'eni-0staging',
        VpcId: 'vpc-0staging',
        Description: 'aws-K8S-i-0staging',
        Status: 'in-use',
      },
    ],
    securityGroups: [{ GroupId: 'sg-0staging', GroupName: 'k8s-elb-staging', Tags: tags({ [STAGING_TAG]: 'owned' }) }],
    volumes: [{ VolumeId: 'vol-0staging', Size: 1, State: 'in-use', Tags: tags({ 'two-tier/stack': 'staging' }) }],
    snapshots: [
      // The newest 7 of mysql, the one dbSnapshot pins, 3 of mongodb: all kept.
      ...Array.from({ length: 7 }, (_, day) => snapshot(`snap-0mysql${day + 10}`, day + 10, ours('mysql'))),
      snapshot('snap-0pinned', 2, ours('mysql')),
      ...Array.from({ length: 3 }, (_, day) => snapshot(`snap-0mongo${day + 10}`, day + 10, ours('mongodb'))),
      // Another account's public snapshot that carries the same tags: not ours to count.
      snapshot('snap-0public', 1, ours('mysql'), '999999999999'),
    ],
    loadBalancers: Array.from({ length: 24 }, (_, index) => ({
      description: { LoadBalancerName: `other-${index}`, DNSName: `other-${index}.elb.amazonaws.com` },
      tags: tags(index === 3 ? { [STAGING_TAG]: 'owned' } : { team: 'payments' }),
    })),
    logGroups: [
      { logGroupName: '/aws/eks/two-tier-staging/cluster' },
      { logGroupName: '/aws/eks/two-tier-eks-old/cluster' },
    ],
    repositories: [
      ...Array.from({ length: 5 }, (_, index) => ({ repositoryName: `team-${index}/api` })),
      { repositoryName: 'two-tier-eks-old/web' },
    ],
    // Another cluster's controller objects, and another team's ALB, ahead of anything of ours in the pages.
    taggedResources: [
      ...controllerObjects('staging', 'a0a0a0a0a0'),
      { ResourceARN: `${ARN}:loadbalancer/app/payments/0123456789abcdef`, Tags: tags({ team: 'payments' }) },
    ],
  };
}

/** A destroy that stopped half-way: the stack's own things, each where pagination puts it last. */
function leftBehind(): AccountState {
  const account = cleanAccount();
  account.vpcs.push({ VpcId: 'vpc-0eks', CidrBlock: '10.42.0.0/16', Tags: tags({ Name: 'two-tier-eks' }) });
  account.networkInterfaces.push(
    { NetworkInterfaceId: 'eni-0cni1', VpcId: 'vpc-0eks', Description: 'aws-K8S-i-0node1', Status: 'available' },
    { NetworkInterfaceId: 'eni-0cni2', VpcId: 'vpc-0eks', Description: 'aws-K8S-i-0node2', Status: 'available' },
  );
  account.securityGroups.push(
    { GroupId: 'sg-0elb', GroupName: 'k8s-elb-a1b2c3', Tags: tags({ [CLUSTER_TAG]: 'owned' }) },
    { GroupId: 'sg-0cluster', GroupName: 'eks-cluster-sg-two-tier-eks', Tags: tags({ [CLUSTER_TAG]: 'owned' }) },
  );
  account.volumes.push(
    { VolumeId: 'vol-0data', Size: 1, State: 'available', Tags: tags(ours('mysql')) },
    { VolumeId: 'vol-0pvc', Size: 4, State: 'available', Tags: tags({ [CLUSTER_TAG]: 'owned' }) },
  );
  account.snapshots.push(snapshot('snap-0old1', 3, ours('mysql')), snapshot('snap-0old0', 1, ours('mysql')));
  account.loadBalancers.push({
    description: { LoadBalancerName: 'a1b2c3', DNSName: 'a1b2c3-1234567890.ap-south-1.elb.amazonaws.com' },
    tags: tags({ [CLUSTER_TAG]: 'owned', 'kubernetes.io/service-name': 'two-tier-eks/web-web' }),
  });
  account.taggedResources.push(...controllerObjects('eks', 'b1b1b1b1b1'));
  account.logGroups.push({ logGroupName: '/aws/eks/two-tier-eks/cluster', storedBytes: 2048 });
  account.repositories.push({
    repositoryName: 'two-tier-eks/web',
    repositoryUri: '123456789012.dkr.ecr.ap-south-1.amazonaws.com/two-tier-eks/web',
  });
  return account;
}

function clientsOf(account: FakeAccount) {
  const options = { region: 'ap-south-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'example' } };
  return {
    ec2: account.serve(new EC2Client(options)),
    elb: account.serve(new ElasticLoadBalancingClient(options)),
    logs: account.serve(new CloudWatchLogsClient(options)),
    ecr: account.serve(new ECRClient(options)),
    tagging: account.serve(new ResourceGroupsTaggingAPIClient(options)),
  };
}

const ids = (leftovers: Leftover[]) => leftovers.map((leftover) => `${leftover.kind} ${leftover.id}`).sort();

describe('leftovers: what a destroy of the eks stack left in the account (AWS SDK clients, a fake account)', () => {
  test('after a clean destroy nothing is listed: other stacks, other accounts and the kept snapshots are not leftovers', async () => {
    const account = new FakeAccount(cleanAccount());
    const leftovers = await findLeftovers(clientsOf(account), { stack: 'eks', keep: 7, pinned: 'snap-0pinned' });
    assert.deepEqual(leftovers, []);
    assert.ok(
      account.calls.filter((call) => call.startsWith('DescribeLoadBalancersCommand')).length >= 12,
      'the 24 load balancers come two a page: every page must be read',
    );
  });

  test('after a destroy that stopped half-way, each thing of the stack is named, however deep in the pages', async () => {
    const account = new FakeAccount(leftBehind());
    const leftovers = await findLeftovers(clientsOf(account), { stack: 'eks', keep: 7, pinned: 'snap-0pinned' });
    assert.deepEqual(ids(leftovers), [
      'EBS snapshot snap-0old0',
      'EBS snapshot snap-0old1',
      'EBS volume vol-0data',
      'EBS volume vol-0pvc',
      'ECR repository two-tier-eks/web',
      'VPC vpc-0eks',
      `application load balancer ${ARN}:loadbalancer/app/k8s-eks-webingre-b1b1b1b1b1/50dc6c495c0c9188`,
      'load balancer a1b2c3',
      'log group /aws/eks/two-tier-eks/cluster',
      'network interface eni-0cni1',
      'network interface eni-0cni2',
      'security group sg-0cluster',
      'security group sg-0eksingress',
      'security group sg-0ekstraffic',
      'security group sg-0elb',
      `target group ${ARN}:targetgroup/k8s-eks-webweb-b1b1b1b1b1/73e2d6bc24d8a067`,
    ]);
    const tagCalls = account.calls.filter((call) => call.startsWith('DescribeTagsCommand'));
    assert.equal(tagCalls.length, 2, 'DescribeTags takes 20 names a call: 25 load balancers need two');
    const { lines, exitCode } = report('eks', leftovers);
    assert.equal(exitCode, 1);
    const taggingCalls = account.calls.filter((call) => call.startsWith('GetResourcesCommand'));
    assert.equal(
      taggingCalls.length,
      2,
      "the stack's 4 controller objects come two a page: the groups are on the second",
    );
    assert.ok(
      taggingCalls.every((call) =>
        call.includes('"TagFilters":[{"Key":"elbv2.k8s.aws/cluster","Values":["two-tier-eks"]}]'),
      ),
      taggingCalls.join('\n'),
    );
    assert.match(lines[0] as string, /^two-tier: 16 thing\(s\) of stack eks left in AWS after destroy:$/);
    assert.ok(lines.includes('  network interface eni-0cni1 available aws-K8S-i-0node1'), lines.join('\n'));
    assert.ok(lines.includes('  security group sg-0ekstraffic backend-sg'), lines.join('\n'));
    assert.ok(
      lines.includes(
        `  application load balancer ${ARN}:loadbalancer/app/k8s-eks-webingre-b1b1b1b1b1/50dc6c495c0c9188 two-tier-eks/web-ingress`,
      ),
      lines.join('\n'),
    );
    assert.ok(
      lines.includes('  EBS snapshot snap-0old0 mysql, 2026-11-01T14:40:00.000Z, beyond the newest 7'),
      lines.join('\n'),
    );
  });

  test('the kept count is per engine, and a snapshot dbSnapshot pins is never a leftover', async () => {
    const account = new FakeAccount(leftBehind());
    // mysql, newest first: seven from the 10th on, snap-0old1, snap-0pinned, snap-0old0; mongodb: three.
    const keepEight = await findLeftovers(clientsOf(account), { stack: 'eks', keep: 8, pinned: 'snap-0pinned' });
    assert.deepEqual(
      ids(keepEight).filter((id) => id.startsWith('EBS snapshot')),
      ['EBS snapshot snap-0old0'],
    );
    const keepTwo = await findLeftovers(clientsOf(new FakeAccount(leftBehind())), { stack: 'eks', keep: 2 });
    const snapshots = ids(keepTwo).filter((id) => id.startsWith('EBS snapshot'));
    // mysql: 10 of ours beyond the newest 2 is 8, the pinned one among them now that nothing pins it; mongodb: 1.
    assert.equal(snapshots.length, 10 - 2 + 1);
    assert.ok(snapshots.includes('EBS snapshot snap-0pinned'));
    assert.ok(snapshots.includes('EBS snapshot snap-0mongo10'));
  });

  test('the stack, its region and its kept count come from its config files; a local stack has nothing in AWS', () => {
    assert.deepEqual(footprintOf(REPO, 'eks'), { stack: 'eks', region: 'ap-south-1', keep: 7 });
    assert.throws(() => footprintOf(REPO, 'dev'), /stack dev targets a local cluster: it has nothing in AWS/);
    assert.deepEqual(report('eks', []), { lines: ['two-tier: nothing of stack eks is left in AWS'], exitCode: 0 });
  });
});
