import type * as pulumi from '@pulumi/pulumi';

export const LOAD_BALANCER_HOSTNAME = 'a1b2c3d4e5f6-1234567890.ap-south-1.elb.amazonaws.com';
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
        kubeconfigJson: JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: inputs.name }] }),
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
    case 'aws:ec2/launchTemplate:LaunchTemplate':
      state.latestVersion = 1;
      break;
    case 'random:index/randomPassword:RandomPassword':
      state.result = `${GENERATED_PASSWORD_PREFIX}${args.name}`;
      break;
    case 'kubernetes:core/v1:Service':
      if (inputs.spec?.type === 'LoadBalancer') {
        state.status = { loadBalancer: { ingress: [{ hostname: LOAD_BALANCER_HOSTNAME }] } };
      }
      break;
  }
  return { id: `${args.name}-id`, state };
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
    case 'aws:index/getAvailabilityZones:getAvailabilityZones':
      return { names: ['ap-south-1a', 'ap-south-1b', 'ap-south-1c'], zoneIds: ['aps1-az1', 'aps1-az3', 'aps1-az2'] };
    case 'aws:ecr/getAuthorizationToken:getAuthorizationToken':
      return {
        userName: 'AWS',
        password: 'ecr-token',
        authorizationToken: 'QVdTOmVjci10b2tlbg==',
        proxyEndpoint: 'https://123456789012.dkr.ecr.ap-south-1.amazonaws.com',
      };
    case 'aws:ebs/getSnapshotIds:getSnapshotIds':
      return snapshotIds(args.inputs);
    default:
      throw new Error(`the program called ${args.token}, which the mocks do not know`);
  }
}
