import * as aws from '@pulumi/aws';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { checkCapacity, parseRequests } from './infra/capacity';
import type { ClusterTarget } from './infra/cluster';
import { type EksSupportType, monthlyCost, notIncluded } from './infra/cost';
import { DataCopy } from './infra/data-copy';
import { DataSnapshots } from './infra/data-snapshots';
import { DATABASE_RESOURCES, Database, serviceNameOf } from './infra/database';
import { type DbEngine, OFFICIAL_IMAGES } from './infra/database/engines';
import { LOAD_BALANCER_SUBNETS, ZONE_COUNT } from './infra/eks/network';
import { EksCluster } from './infra/eks-cluster';
import { WebImage } from './infra/image';
import { LocalCluster, type LocalClusterKind } from './infra/local-cluster';
import {
  awsProfileInEnvironment,
  between,
  databasePassword,
  domainSettings,
  iamPrincipals,
  imageReference,
  namespaceName,
  ofFamily,
  oneOf,
  snapshotSource,
} from './infra/settings';
import type { Exposure } from './infra/web/exposure';
import { GRACE_PERIOD_SECONDS, WEB_RESOURCES, WebTier } from './infra/web-tier';

const config = new pulumi.Config();
const stack = pulumi.getStack();

const target = oneOf('target', config.require('target'), ['eks', 'local'] as const);
const ENGINES: DbEngine[] = ['mysql', 'mongodb'];
const engine = oneOf('dbEngine', config.require('dbEngine'), ENGINES);
const localCluster = oneOf<LocalClusterKind>('localCluster', config.require('localCluster'), [
  'kind',
  'minikube',
  'docker-desktop',
]);
const minReplicas = between('webMinReplicas', config.requireNumber('webMinReplicas'), 1, 100);
const prebuiltImage = config.get('webImage') ? imageReference('webImage', config.require('webImage')) : undefined;
const dbImage = config.get('dbImage') ? imageReference('dbImage', config.require('dbImage')) : undefined;
// eks nodes (t3, m5) are x86; a local cluster's nodes run on this machine's architecture.
const imagePlatform = oneOf(
  'imagePlatform',
  config.get('imagePlatform') ||
    (target === 'eks' ? 'linux/amd64' : `linux/${process.arch === 'arm64' ? 'arm64' : 'amd64'}`),
  ['linux/amd64', 'linux/arm64'],
);
// Read in plain once, to check before anything is created; only their secret wrapping goes further.
const [dbPassword, dbRootPassword] = (['dbPassword', 'dbRootPassword'] as const).map((key) => {
  const value = databasePassword(key, config.get(key));
  return value === undefined ? undefined : pulumi.secret(value);
});
const maxReplicas = between('webMaxReplicas', config.requireNumber('webMaxReplicas'), minReplicas, 100);
const settings = {
  namespace: config.get('namespace') || `two-tier-${stack}`,
  metricsNamespace: namespaceName('metricsNamespace', config.require('metricsNamespace')),
  protectData: config.requireBoolean('protectData'),
  dbVolumeSizeGi: between('dbVolumeSizeGi', config.requireNumber('dbVolumeSizeGi'), 1, 16_384),
  cpuTargetPercent: between('webCpuTargetPercent', config.requireNumber('webCpuTargetPercent'), 10, 100),
  nodePort: between('nodePort', config.requireNumber('nodePort'), 30_000, 32_767),
};

const instanceType = config.require('instanceType');
const eksSettings =
  target === 'eks'
    ? {
        instanceType,
        dataInstanceType: config.get('dataInstanceType')
          ? ofFamily('dataInstanceType', config.require('dataInstanceType'), instanceType)
          : undefined,
        nodeCount: between('nodeCount', config.requireNumber('nodeCount'), 1, 100),
        nodeVolumeSizeGi: between('nodeVolumeSizeGi', config.requireNumber('nodeVolumeSizeGi'), 20, 16_384),
        admins: iamPrincipals('clusterAdmins', config.requireObject<unknown>('clusterAdmins')),
        supportType: oneOf<EksSupportType>('eksSupportType', config.require('eksSupportType'), [
          'STANDARD',
          'EXTENDED',
        ]),
        snapshotSource: snapshotSource('dbSnapshot', config.require('dbSnapshot')),
        snapshotsKept: between('dbSnapshotsKept', config.requireNumber('dbSnapshotsKept'), 1, 1000),
        controlPlaneLogs: config.requireBoolean('controlPlaneLogs'),
        domain: domainSettings(config.require('domain'), config.require('hostedZoneId')),
      }
    : undefined;
if (!eksSettings && config.get('domain'))
  throw new pulumi.RunError('config two-tier:domain applies to target eks only');

if (eksSettings) awsProfileInEnvironment(new pulumi.Config('aws').get('profile'), process.env.AWS_PROFILE);
// Before anything is created: will every pod find a node, during an engine switch too? A preview that cannot
// be scheduled fails here; the check also sizes the data node when dataInstanceType is left empty.
const capacity =
  eksSettings &&
  checkCapacity({
    ...eksSettings,
    webMaxReplicas: maxReplicas,
    web: parseRequests(WEB_RESOURCES.requests),
    database: parseRequests(DATABASE_RESOURCES.requests),
  });
if (capacity && !capacity.fits) throw new pulumi.RunError(capacity.message);
if (capacity) pulumi.log.info(capacity.summary);
const eks = eksSettings && capacity && { ...eksSettings, dataInstanceType: capacity.dataInstanceType };
// What an older eks stack's next `up` changes that a user notices: the URL (the Classic ELB is deleted) and, once,
// the data node (its instance type cannot change in place, so its group is replaced and the database pod moves).
if (eks) {
  pulumi.log.info(
    `the web tier is behind an ALB of the AWS Load Balancer Controller; a stack that had the Classic ELB gets a new URL: ${eks.domain ? `https://${eks.domain.name}` : "the ALB's hostname over HTTP"}`,
  );
  pulumi.log.info(
    `the data node is a ${eks.dataInstanceType}, sized for an engine switch; a stack whose data node was another type gets a new data node group, and its database pod moves once, on the same disk`,
  );
}

const cluster: ClusterTarget & { kubeconfig?: pulumi.Output<string> } = eks
  ? new EksCluster('cluster', {
      ...eks,
      clusterName: `two-tier-${stack}`,
      stack,
      region: new pulumi.Config('aws').require('region'),
      kubernetesVersion: config.require('kubernetesVersion'),
      snapshots: new DataSnapshots('data-snapshots', {
        stack,
        engine,
        source: eks.snapshotSource,
        keep: eks.snapshotsKept,
        region: aws.config.region,
      }),
    })
  : new LocalCluster('cluster', { kind: localCluster, context: config.get('kubeContext') ?? '' });

const namespace = new k8s.core.v1.Namespace(
  'namespace',
  {
    metadata: {
      name: settings.namespace,
      // The API server itself refuses any pod that does not meet the "restricted" standard.
      labels: {
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/warn': 'restricted',
        // The controller holds a new web pod unready until the ALB finds it healthy, so a roll drops nothing.
        ...(eks ? { 'elbv2.k8s.aws/pod-readiness-gate-inject': 'enabled' } : {}),
      },
    },
  },
  // Locally, keeping the data means keeping the claim, and so the namespace it lives in.
  { provider: cluster.provider, dependsOn: cluster.addons, retainOnDelete: settings.protectData && !eks },
);

// A prebuilt image needs no Docker, registry or load step, not even at `up`.
const webImage: Pick<WebImage, 'ref' | 'ready'> = prebuiltImage
  ? { ref: pulumi.output(prebuiltImage), ready: [] }
  : new WebImage('web', {
      projectDir: __dirname,
      context: '.',
      dockerfile: 'service/Dockerfile',
      sources: ['package.json', 'package-lock.json', 'tsconfig.json', 'service'],
      destination:
        target === 'eks'
          ? { kind: 'ecr' }
          : {
              kind: 'local',
              loader: localCluster === 'docker-desktop' ? 'none' : localCluster,
              kindClusterName: config.require('kindClusterName'),
              clusterIdentity: cluster instanceof LocalCluster ? cluster.identity : '',
            },
      platform: imagePlatform,
      repositoryName: target === 'eks' ? `two-tier-${stack}/web` : 'two-tier-web',
    });

const DATABASE = 'db';
const database = new Database(DATABASE, {
  engine,
  image: dbImage ?? OFFICIAL_IMAGES[engine][target === 'eks' ? 'ecrPublic' : 'dockerHub'],
  namespace: namespace.metadata.name,
  provider: cluster.provider,
  storageClassName: cluster.storageClassName,
  volumeSizeGi: settings.dbVolumeSizeGi,
  protectData: settings.protectData,
  dataVolume: cluster.dataVolume?.bind(cluster),
  password: dbPassword,
  rootPassword: dbRootPassword,
  dependsOn: cluster.addons,
  // Its web pods, rolled away by an engine switch, may still serve a kept-alive connection until they end.
  outlivesClientsBy: GRACE_PERIOD_SECONDS,
});

// Switching engines: the new engine's web pods first copy in what the old one holds, while it still runs.
const previousEngine: DbEngine = engine === 'mysql' ? 'mongodb' : 'mysql';
const dataCopy = new DataCopy('data-copy', {
  namespace: namespace.metadata.name,
  provider: cluster.provider,
  database,
  source: { engine: previousEngine, serviceName: serviceNameOf(DATABASE, previousEngine) },
  image: webImage.ref,
});

const exposure: Exposure = eks
  ? { type: 'Alb', trustedProxies: LOAD_BALANCER_SUBNETS, domain: eks.domain }
  : config.requireBoolean('localLoadBalancer')
    ? { type: 'LoadBalancer' }
    : { type: 'NodePort', nodePort: settings.nodePort, host: config.require('nodePortHost') };

const web = new WebTier('web', {
  namespace: namespace.metadata.name,
  provider: cluster.provider,
  image: webImage.ref,
  database,
  exposure,
  minReplicas,
  maxReplicas,
  cpuTargetPercent: settings.cpuTargetPercent,
  metricsNamespace: settings.metricsNamespace,
  initContainers: [dataCopy.container],
  dependsOn: [...cluster.addons, ...webImage.ready, dataCopy],
});

export const url = web.url;
export const kubeconfig = cluster.kubeconfig;
export const clusterName = cluster.clusterName;
export const image = webImage.ref;
export const dbEngine = engine;
/** What the eks stack costs a month while it runs, with its disk's kept snapshots (USD, ap-south-1 list prices); a local cluster costs nothing here. */
export const estimatedMonthlyCostUsd = eks
  ? monthlyCost({
      ...eks,
      dbVolumeSizeGi: settings.dbVolumeSizeGi,
      zones: ZONE_COUNT,
      engines: ENGINES.length,
      domain: !!eks.domain,
    }).total
  : 0;
if (eks) pulumi.log.info(notIncluded(eks.controlPlaneLogs));
