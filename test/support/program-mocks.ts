import type * as pulumi from '@pulumi/pulumi';

export const LOAD_BALANCER_HOSTNAME = 'a1b2c3d4e5f6-1234567890.ap-south-1.elb.amazonaws.com';
/** The ALB the controller makes for the web tier's Ingress: k8s-<namespace>-<ingress>-<hash>. */
export const ALB_HOSTNAME = 'k8s-twotiere-webingre-0123456789-1234567890.ap-south-1.elb.amazonaws.com';
/** The hosted zone the mocked account has, by name; and ap-south-1's ALB zone (the provider's static table). */
export const HOSTED_ZONE = { name: 'example.com', id: 'Z0EXAMPLE12345' };
export const ALB_ZONE_ID = 'ZP97RAFLXTNZK';
export const MOCK_DIGEST = `sha256:${'ab'.repeat(32)}`;
export const GENERATED_PASSWORD_PREFIX = 'generated-password-for-';

/** The state a provider would return: the inputs, plus what the program reads back. */
export function mockNewResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
  // biome-ignore lint/suspicious/noExplicitAny: provider inputs are untyped JSON.
  const inputs = args.inputs as Record<string, any>;
  const state: Record<string, unknown> = { ...inputs };
  switch (args.type) {
    case 'eks:index:Cluster':
      Object.assign(state, {
        kubeconfigJson: eksKubeconfig(inputs.name),
        eksCluster: { name: inputs.name },
        oidcProviderArn: 'arn:aws:iam::123456789012:oidc-provider/oidc.eks.ap-south-1.amazonaws.com/id/EXAMPLE',
        oidcProviderUrl: 'https://oidc.eks.ap-south-1.amazonaws.com/id/EXAMPLE',
      });
      break;
    case 'aws:ecr/repository:Repository':
      Object.assign(state, {
        registryId: '123456789012',
        repositoryUrl: `123456789012.dkr.ecr.ap-south-1.amazonaws.com/${inputs.name}`,
      });
      break;
    case 'aws:iam/role:Role':
      Object.assign(state, { arn: `arn:aws:iam::123456789012:role/${args.name}`, name: args.name });
      break;
    case 'docker:index/image:Image':
      Object.assign(state, {
        repoDigest: `${String(inputs.imageName).replace(/:[^:/]+$/, '')}@${MOCK_DIGEST}`,
      });
      break;
    case 'eks:index:ManagedNodeGroup':
      state.nodeGroup = { nodeGroupName: `${args.name}-20260101000000000000000001` };
      break;
    case 'aws:ec2/launchTemplate:LaunchTemplate':
      state.latestVersion = 1;
      break;
    case 'random:index/randomPassword:RandomPassword':
      state.result = `${GENERATED_PASSWORD_PREFIX}${args.name}`;
      break;
    case 'kubernetes:networking.k8s.io/v1:Ingress':
      state.status = { loadBalancer: { ingress: [{ hostname: ALB_HOSTNAME }] } };
      break;
    case 'aws:iam/policy:Policy':
      state.arn = `arn:aws:iam::123456789012:policy/${args.name}`;
      break;
    case 'aws:acm/certificate:Certificate':
      Object.assign(state, {
        arn: `arn:aws:acm:ap-south-1:123456789012:certificate/${args.name}`,
        domainValidationOptions: [
          {
            domainName: inputs.domainName,
            resourceRecordName: `_0123456789abcdef.${inputs.domainName}.`,
            resourceRecordType: 'CNAME',
            resourceRecordValue: '_fedcba9876543210.abcdefghij.acm-validations.aws.',
          },
        ],
      });
      break;
    case 'aws:acm/certificateValidation:CertificateValidation':
      state.certificateArn = inputs.certificateArn;
      break;
    case 'aws:route53/record:Record':
      state.fqdn = String(inputs.name).replace(/\.$/, '');
      break;
    case 'kubernetes:core/v1:Service':
      if (inputs.spec?.type === 'LoadBalancer') {
        state.status = { loadBalancer: { ingress: [{ hostname: LOAD_BALANCER_HOSTNAME }] } };
      }
      break;
  }
  return { id: `${args.name}-id`, state };
}

/** Who runs the program, as STS names it: MOCK_AWS_CALLER, by default the deploy role in a CI session. */
export const DEPLOY_ROLE = 'arn:aws:iam::123456789012:role/two-tier-deploy';
const caller = () => process.env.MOCK_AWS_CALLER ?? 'arn:aws:sts::123456789012:assumed-role/two-tier-deploy/ci-run-1';

/** IAM Identity Center's roles live under this path (its home region's); the account's own roles under /. */
const rolePath = (name: string) =>
  name.startsWith('AWSReservedSSO_') ? '/aws-reserved/sso.amazonaws.com/ap-south-1/' : '/';

/** The EKS clusters that exist, by name, with their tags: MOCK_EKS_CLUSTERS (JSON); none by default. */
const clusters = (): Record<string, Record<string, string>> => JSON.parse(process.env.MOCK_EKS_CLUSTERS ?? '{}');

/**
 * ap-south-1 as an account opted in to the Delhi Local Zone sees it: DescribeAvailabilityZones lists
 * zones by name, so the Local Zone comes first. MOCK_ZONE_STATES (JSON, name to state) changes states.
 */
function availabilityZones() {
  const states: Record<string, string> = JSON.parse(process.env.MOCK_ZONE_STATES ?? '{}');
  return [
    { name: 'ap-south-1-del-1a', zoneId: 'aps1-del1-az1', 'zone-type': 'local-zone', 'opt-in-status': 'opted-in' },
    {
      name: 'ap-south-1a',
      zoneId: 'aps1-az1',
      'zone-type': 'availability-zone',
      'opt-in-status': 'opt-in-not-required',
    },
    {
      name: 'ap-south-1b',
      zoneId: 'aps1-az3',
      'zone-type': 'availability-zone',
      'opt-in-status': 'opt-in-not-required',
    },
    {
      name: 'ap-south-1c',
      zoneId: 'aps1-az2',
      'zone-type': 'availability-zone',
      'opt-in-status': 'opt-in-not-required',
    },
  ].map((zone) => ({ ...zone, state: states[zone.name] ?? 'available' }));
}

/** The kubeconfig @pulumi/eks generates for `kubeconfigJson`: `aws eks get-token`, never with a profile. */
function eksKubeconfig(clusterName: string): string {
  const args = ['--region', 'ap-south-1', 'eks', 'get-token', '--cluster-name', clusterName, '--output', 'json'];
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'kubernetes', cluster: { server: 'https://EXAMPLE.gr7.ap-south-1.eks.amazonaws.com' } }],
    users: [
      {
        name: 'aws',
        user: { exec: { command: 'aws', args } },
      },
    ],
  });
}

/** An EBS snapshot of the account, as a test lays them out in MOCK_EBS_SNAPSHOTS (a JSON array). */
export interface MockSnapshot {
  id: string;
  startTime: string;
  state: 'completed' | 'pending' | 'error';
  tags: Record<string, string>;
}

/** getSnapshotIds over MOCK_EBS_SNAPSHOTS: the filters EC2 applies, newest first as the provider sorts them. */
function snapshotIds(inputs: { owners?: string[]; filters?: { name: string; values: string[] }[] }) {
  const snapshots = JSON.parse(process.env.MOCK_EBS_SNAPSHOTS ?? '[]') as MockSnapshot[];
  if (JSON.stringify(inputs.owners) !== '["self"]')
    throw new Error("getSnapshotIds must ask for the account's own snapshots");
  const matches = (snapshot: MockSnapshot, { name, values }: { name: string; values: string[] }) => {
    if (name.startsWith('tag:')) return values.includes(snapshot.tags[name.slice('tag:'.length)] ?? '');
    if (name === 'status') return values.includes(snapshot.state);
    throw new Error(`the snapshot mock does not know the filter ${name}`);
  };
  const ids = snapshots
    .filter((snapshot) => (inputs.filters ?? []).every((filter) => matches(snapshot, filter)))
    .sort((a, b) => b.startTime.localeCompare(a.startTime))
    .map((snapshot) => snapshot.id);
  return { id: 'ap-south-1', ids };
}

/** Provider functions the program calls; any other call is a test failure, not a silent empty answer. */
export function mockCall(args: pulumi.runtime.MockCallArgs): pulumi.runtime.MockCallResult {
  switch (args.token) {
    case 'aws:index/getAvailabilityZones:getAvailabilityZones': {
      // biome-ignore lint/suspicious/noExplicitAny: invoke arguments are untyped JSON.
      const { state, filters = [] } = args.inputs as { state?: string; filters?: any[] };
      const zones = availabilityZones().filter(
        (zone) =>
          (!state || zone.state === state) &&
          filters.every((filter) => filter.values.includes((zone as Record<string, string>)[filter.name])),
      );
      return { names: zones.map((zone) => zone.name), zoneIds: zones.map((zone) => zone.zoneId) };
    }
    case 'aws:index/getCallerIdentity:getCallerIdentity':
      return { accountId: '123456789012', arn: caller(), userId: 'AROAEXAMPLE:ci-run-1' };
    case 'aws:iam/getSessionContext:getSessionContext': {
      // An assumed-role session resolves to its role's ARN as iam:GetRole gives it, path included; any other passes.
      const role = /^arn:aws:sts::(\d{12}):assumed-role\/([^/]+)\/(.+)$/.exec(args.inputs.arn);
      return role
        ? {
            arn: args.inputs.arn,
            issuerArn: `arn:aws:iam::${role[1]}:role${rolePath(role[2] as string)}${role[2]}`,
            sessionName: role[3],
          }
        : { arn: args.inputs.arn, issuerArn: args.inputs.arn };
    }
    case 'aws:eks/getClusters:getClusters':
      return { id: 'ap-south-1', names: Object.keys(clusters()) };
    case 'aws:eks/getCluster:getCluster': {
      const tags = clusters()[args.inputs.name];
      if (!tags) throw new Error(`ResourceNotFoundException: No cluster found for name: ${args.inputs.name}`);
      return { name: args.inputs.name, tags };
    }
    case 'aws:ecr/getAuthorizationToken:getAuthorizationToken':
      return {
        userName: 'AWS',
        password: 'ecr-token',
        authorizationToken: 'QVdTOmVjci10b2tlbg==',
        proxyEndpoint: 'https://123456789012.dkr.ecr.ap-south-1.amazonaws.com',
      };
    case 'aws:route53/getZone:getZone': {
      const { name, privateZone } = args.inputs as { name?: string; privateZone?: boolean };
      if (name !== HOSTED_ZONE.name || privateZone !== false)
        throw new Error(`no public hosted zone named ${name} in the account`);
      return { zoneId: HOSTED_ZONE.id, name: `${HOSTED_ZONE.name}.`, privateZone: false };
    }
    case 'aws:lb/getHostedZoneId:getHostedZoneId':
      if (args.inputs.loadBalancerType !== 'application') throw new Error('asked for a zone of another ELB type');
      return { id: ALB_ZONE_ID, loadBalancerType: 'application', region: 'ap-south-1' };
    case 'aws:ebs/getSnapshotIds:getSnapshotIds':
      return snapshotIds(args.inputs);
    default:
      throw new Error(`the program called ${args.token}, which the mocks do not know`);
  }
}
