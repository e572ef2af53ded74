import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import type { Database } from './database';
import { APP_DATABASE } from './database/engines';
import {
  allowIngress,
  fromSecret,
  objectMetadata,
  objectOptions,
  restrictedContainer,
  restrictedPod,
  type TierObjects,
  tierLabels,
} from './labels';
import { type Exposure, webExposure } from './web/exposure';
import { ALB_PRE_STOP_SECONDS } from './web/ingress';
import { webScaling } from './web/scaling';

export interface WebTierArgs {
  /** The namespace of the stack. */
  readonly namespace: pulumi.Input<string>;
  /** The cluster's Kubernetes provider. */
  readonly provider: k8s.Provider;
  /** The image reference the pods run (by digest on ECR). */
  readonly image: pulumi.Input<string>;
  /** The database tier it connects to, by its Service's DNS name and Secret. */
  readonly database: Database;
  /** An ALB (eks), a cloud load balancer (port 80), or a NodePort on a local cluster. */
  readonly exposure: Exposure;
  /** The autoscaler's floor. */
  readonly minReplicas: number;
  /** The autoscaler's ceiling. */
  readonly maxReplicas: number;
  /** The average CPU use the autoscaler aims for, in percent of the request. */
  readonly cpuTargetPercent: number;
  /** The namespace whose pods (Prometheus's) may reach the metrics port; no other pod can. */
  readonly metricsNamespace: string;
  /** What must exist first and be deleted last (the cluster's add-ons, the image load). */
  readonly dependsOn?: pulumi.Resource[];
  /** Run to completion in every pod before the web container starts (the copy of an engine switch). */
  readonly initContainers?: k8s.types.input.core.v1.Container[];
}

export const WEB_PORT = 5000;
/** GET /metrics: a port no Service exposes, open to the metrics namespace's pods only (the OpenTelemetry exporter's usual). */
export const METRICS_PORT = 9464;
const WEB_UID = 10001;
/**
 * From the measured footprint (`npm run bench`, the pods' Node.js settings): peak RSS 122.7 to 138.2 MiB at
 * 32 busy connections, so 152 MiB requested (about 10% over the highest); 256 MiB for the largest pages.
 */
export const WEB_RESOURCES = { requests: { cpu: '100m', memory: '152Mi' }, limits: { memory: '256Mi' } };
/** V8's old space within that limit, leaving room for the runtime, buffers and the young generation. */
const WEB_HEAP_MIB = 160;
/** The young generation's semi-spaces: 16 MiB by default, they took peak RSS under load over 130 MiB. */
const WEB_SEMI_SPACE_MIB = 4;
/** The Node.js settings of the web pods; `npm run bench` runs the service with the same. */
export const WEB_NODE_OPTIONS = `--max-old-space-size=${WEB_HEAP_MIB} --max-semi-space-size=${WEB_SEMI_SPACE_MIB}`;
/** The pause before SIGTERM, while endpoints and load balancers stop sending new requests. */
const PRE_STOP_SECONDS = 5;

/** The service drains for up to 10 s after SIGTERM; the grace period covers the pause and the drain. */
export const GRACE_PERIOD_SECONDS = 30;

/**
 * The web tier: a Deployment the autoscaler sizes (2 to 5 replicas at 70% CPU by default), rolled
 * without ever dropping below the ready count, spread across nodes, kept at one pod at least by a
 * disruption budget, and exposed by an ALB on EKS, or a NodePort (or load balancer) locally.
 */
export class WebTier extends pulumi.ComponentResource {
  public readonly serviceName: pulumi.Output<string>;
  /** What a person opens. */
  public readonly url: pulumi.Output<string>;

  constructor(name: string, args: WebTierArgs, opts?: pulumi.ComponentResourceOptions) {
    super('twotier:infra:WebTier', name, {}, opts);
    const tier: TierObjects = { name, parent: this, tier: 'web', namespace: args.namespace, provider: args.provider };
    const labels = tierLabels('web');
    const db = args.database;

    // Without a proxy that names the client, the write limit counts the TCP peer (locally, a node's address).
    const proxyEnv =
      args.exposure.type === 'Alb' ? [{ name: 'TRUSTED_PROXIES', value: args.exposure.trustedProxies.join(',') }] : [];
    const preStopSeconds = args.exposure.type === 'Alb' ? ALB_PRE_STOP_SECONDS : PRE_STOP_SECONDS;

    const httpProbe = (path: string, periodSeconds: number, failureThreshold: number) => ({
      httpGet: { path, port: 'http' },
      periodSeconds,
      timeoutSeconds: 2,
      failureThreshold,
    });

    const deployment = new k8s.apps.v1.Deployment(
      `${name}-deployment`,
      {
        metadata: objectMetadata(tier, 'web'),
        spec: {
          // No replicas here: the autoscaler owns the count, and `up` must not reset it.
          selector: { matchLabels: labels },
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
          template: {
            metadata: {
              labels,
              // The Secret is updated in place: without this, pods would keep the old password until they restart.
              annotations: {
                'two-tier/credentials-checksum': db.credentialsChecksum,
                // The convention a cluster's Prometheus discovers scrape targets by.
                'prometheus.io/scrape': 'true',
                'prometheus.io/port': String(METRICS_PORT),
                'prometheus.io/path': '/metrics',
              },
            },
            spec: {
              automountServiceAccountToken: false,
              securityContext: restrictedPod(WEB_UID),
              terminationGracePeriodSeconds: GRACE_PERIOD_SECONDS,
              initContainers: args.initContainers,
              topologySpreadConstraints: [
                {
                  maxSkew: 1,
                  topologyKey: 'kubernetes.io/hostname',
                  whenUnsatisfiable: 'ScheduleAnyway',
                  labelSelector: { matchLabels: labels },
                },
              ],
              containers: [
                {
                  name: 'web',
                  image: args.image,
                  imagePullPolicy: 'IfNotPresent',
                  ports: [
                    { name: 'http', containerPort: WEB_PORT },
                    { name: 'metrics', containerPort: METRICS_PORT },
                  ],
                  env: [
                    { name: 'HOST', value: '0.0.0.0' },
                    { name: 'PORT', value: String(WEB_PORT) },
                    { name: 'METRICS_PORT', value: String(METRICS_PORT) },
                    { name: 'DB_ENGINE', value: db.engine },
                    { name: 'LOG_LEVEL', value: 'info' },
                    { name: 'NODE_OPTIONS', value: WEB_NODE_OPTIONS },
                    ...proxyEnv,
                    ...databaseEnv(db),
                  ],
                  startupProbe: httpProbe('/health', 1, 30),
                  livenessProbe: httpProbe('/health', 10, 3),
                  readinessProbe: httpProbe('/ready', 5, 2),
                  lifecycle: { preStop: { sleep: { seconds: preStopSeconds } } },
                  resources: WEB_RESOURCES,
                  securityContext: restrictedContainer,
                },
              ],
            },
          },
        },
      },
      { ...objectOptions(tier), dependsOn: args.dependsOn },
    );

    const { service, url } = webExposure(tier, { exposure: args.exposure, deployment, dependsOn: args.dependsOn });
    this.serviceName = service.metadata.name;
    this.url = url;
    webScaling(tier, { ...args, deployment });

    const policy = { namespace: args.namespace, tier: 'web' } as const;
    allowIngress(`${name}-allow-http`, { ...policy, port: WEB_PORT, from: 'anywhere' }, objectOptions(tier));
    allowIngress(
      `${name}-allow-metrics`,
      { ...policy, port: METRICS_PORT, from: { namespace: args.metricsNamespace } },
      objectOptions(tier),
    );

    this.registerOutputs({ serviceName: this.serviceName, url: this.url });
  }
}

/** The service's variables for a database tier: its Service's DNS name and the credentials from its Secret. */
export function databaseEnv(db: Database): k8s.types.input.core.v1.EnvVar[] {
  return db.engine === 'mysql'
    ? [
        { name: 'MYSQL_HOST', value: db.host },
        { name: 'MYSQL_PORT', value: String(db.port) },
        { name: 'MYSQL_USER', valueFrom: fromSecret(db.secretName, 'username') },
        { name: 'MYSQL_PASSWORD', valueFrom: fromSecret(db.secretName, 'password') },
        { name: 'MYSQL_DATABASE', value: APP_DATABASE },
      ]
    : [
        { name: 'MONGODB_URL', valueFrom: fromSecret(db.secretName, 'url') },
        { name: 'MONGODB_DATABASE', value: APP_DATABASE },
      ];
}
