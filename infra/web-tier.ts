import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import type { Database } from './database';
import { APP_DATABASE } from './database';
import { allowIngress, fromSecret, restrictedContainer, restrictedPod, tierLabels } from './labels';

export type Exposure =
  | {
      readonly type: 'LoadBalancer';
      /**
       * On EKS, the VPC's range: the Classic ELB speaks HTTP to the nodes, so it appends each client's
       * address to X-Forwarded-For, and the pods believe that header from this range only.
       */
      readonly awsVpcCidr?: string;
    }
  | { readonly type: 'NodePort'; readonly nodePort: number; readonly host: string };

/** The in-tree AWS controller's annotation that makes the Classic ELB's listener HTTP instead of TCP. */
const AWS_BACKEND_PROTOCOL = 'service.beta.kubernetes.io/aws-load-balancer-backend-protocol';

export interface WebTierArgs {
  /** The namespace of the stack. */
  readonly namespace: pulumi.Input<string>;
  /** The cluster's Kubernetes provider. */
  readonly provider: k8s.Provider;
  /** The image reference the pods run (by digest on ECR). */
  readonly image: pulumi.Input<string>;
  /** The database tier it connects to, by its Service's DNS name and Secret. */
  readonly database: Database;
  /** A cloud load balancer (port 80), or a NodePort on a local cluster. */
  readonly exposure: Exposure;
  /** The autoscaler's floor and ceiling, and its CPU target in percent of the request. */
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly cpuTargetPercent: number;
  /** What must exist first and be deleted last (the cluster's add-ons, the image load). */
  readonly dependsOn?: pulumi.Resource[];
  /** Run to completion in every pod before the web container starts (the copy of an engine switch). */
  readonly initContainers?: k8s.types.input.core.v1.Container[];
}

export const WEB_PORT = 5000;
/** GET /metrics: a port no Service exposes, open to the cluster's pods only (the OpenTelemetry exporter's usual). */
export const METRICS_PORT = 9464;
const WEB_UID = 10001;
/** From the measured footprint (`npm run bench`): under 120 MiB at 32 busy connections; 256 MiB for the largest pages. */
export const WEB_RESOURCES = { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } };
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
 * disruption budget, and exposed by a load balancer on EKS or a NodePort locally.
 */
export class WebTier extends pulumi.ComponentResource {
  public readonly serviceName: pulumi.Output<string>;
  /** What a person opens. */
  public readonly url: pulumi.Output<string>;

  constructor(name: string, args: WebTierArgs, opts?: pulumi.ComponentResourceOptions) {
    super('twotier:infra:WebTier', name, {}, opts);
    const labels = tierLabels('web');
    const k8sOpts = { parent: this, provider: args.provider };
    const metadata = (suffix: string) => ({ name: `${name}-${suffix}`, namespace: args.namespace, labels });
    const db = args.database;

    const exposure = args.exposure;
    // Without a proxy that names the client, the write limit counts the TCP peer (locally, a node's address).
    const awsVpcCidr = exposure.type === 'LoadBalancer' ? exposure.awsVpcCidr : undefined;
    const proxyEnv = awsVpcCidr ? [{ name: 'TRUSTED_PROXIES', value: awsVpcCidr }] : [];

    const httpProbe = (path: string, periodSeconds: number, failureThreshold: number) => ({
      httpGet: { path, port: 'http' },
      periodSeconds,
      timeoutSeconds: 2,
      failureThreshold,
    });

    const deployment = new k8s.apps.v1.Deployment(
      `${name}-deployment`,
      {
        metadata: metadata('web'),
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
                  lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SECONDS } } },
                  resources: WEB_RESOURCES,
                  securityContext: restrictedContainer,
                },
              ],
            },
          },
        },
      },
      { ...k8sOpts, dependsOn: args.dependsOn },
    );

    const service = new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: {
          ...metadata('web'),
          ...(awsVpcCidr ? { annotations: { [AWS_BACKEND_PROTOCOL]: 'http' } } : {}),
        },
        spec:
          args.exposure.type === 'LoadBalancer'
            ? { type: 'LoadBalancer', selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] }
            : {
                type: 'NodePort',
                selector: labels,
                ports: [{ name: 'http', port: 80, targetPort: 'http', nodePort: args.exposure.nodePort }],
              },
      },
      // Deleted before the add-ons and the cluster, so the controller can still remove the load balancer.
      { ...k8sOpts, dependsOn: [deployment, ...(args.dependsOn ?? [])] },
    );
    this.serviceName = service.metadata.name;

    new k8s.autoscaling.v2.HorizontalPodAutoscaler(
      `${name}-hpa`,
      {
        metadata: metadata('web'),
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name },
          minReplicas: args.minReplicas,
          maxReplicas: args.maxReplicas,
          metrics: [
            {
              type: 'Resource',
              resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: args.cpuTargetPercent } },
            },
          ],
        },
      },
      k8sOpts,
    );

    new k8s.policy.v1.PodDisruptionBudget(
      `${name}-pdb`,
      { metadata: metadata('web'), spec: { minAvailable: 1, selector: { matchLabels: labels } } },
      k8sOpts,
    );

    const policy = { namespace: args.namespace, tier: 'web' } as const;
    allowIngress(`${name}-allow-http`, { ...policy, port: WEB_PORT, from: 'anywhere' }, k8sOpts);
    allowIngress(`${name}-allow-metrics`, { ...policy, port: METRICS_PORT, from: 'cluster' }, k8sOpts);

    this.url =
      exposure.type === 'NodePort'
        ? pulumi.output(`http://${exposure.host}:${exposure.nodePort}`)
        : service.status.loadBalancer.ingress.apply((ingress) => {
            const address = ingress?.[0]?.hostname ?? ingress?.[0]?.ip;
            return address ? `http://${address}` : 'the load balancer has no address yet';
          });

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
