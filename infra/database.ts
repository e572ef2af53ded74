import { scryptSync } from 'node:crypto';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import type { ClusterTarget } from './cluster';
import { DeleteDelay } from './delete-delay';
import { FIRST_BOOT_DONE_SCRIPT, FIRST_BOOT_STATE, firstBootDone, firstBootGuard } from './first-boot';
import { allowIngress, fromSecret, restrictedContainer, restrictedPod, tierLabels } from './labels';

export type DbEngine = 'mysql' | 'mongodb';

export interface DatabaseArgs {
  /** mysql (MySQL 8.4 LTS) or mongodb (MongoDB 8.0). */
  readonly engine: DbEngine;
  /** The image to run: `OFFICIAL_IMAGES`, or a mirror, an air-gapped registry, a stand-in (`dbImage`). */
  readonly image: string;
  /** The namespace of the stack. */
  readonly namespace: pulumi.Input<string>;
  /** The cluster's Kubernetes provider. */
  readonly provider: k8s.Provider;
  /** The StorageClass of the data volume. */
  readonly storageClassName: pulumi.Input<string>;
  /** The data volume, GiB. */
  readonly volumeSizeGi: number;
  /** Keep the data when the stack is destroyed or the engine switched: the disk (eks) or the claim (local). */
  readonly protectData: boolean;
  /** The cluster's own data volume, when it has one (eks); otherwise the StorageClass provisions the claim's. */
  readonly dataVolume?: ClusterTarget['dataVolume'];
  /** The application user's password (`pulumi config set --secret dbPassword`); generated when absent. */
  readonly password?: pulumi.Input<string>;
  /** The administrator's password (`dbRootPassword`); generated when absent. */
  readonly rootPassword?: pulumi.Input<string>;
  /** What must exist first and be deleted last (the storage add-ons). */
  readonly dependsOn?: pulumi.Resource[];
  /**
   * When the tier is deleted (an engine switch, destroy), it keeps serving this long first, seconds:
   * the longest its clients, the web pods rolled away from it, may still run.
   */
  readonly outlivesClientsBy: number;
}

export const APP_DATABASE = 'app';
export const APP_USER = 'app';

/**
 * The official images, pinned to a patch release: from Docker Hub by the digest docker-library/repo-info
 * lists for the tag (mysql: repos/mysql/remote/8.4.11.md at 0f0c69aa; mongo: repos/mongo/remote/8.0.29.md
 * at 127c27d3), and Amazon ECR Public's copy of the same tag (no Docker Hub pull limit on EKS nodes),
 * by tag: no public source gives the copies' digests.
 */
export const OFFICIAL_IMAGES: Record<DbEngine, { dockerHub: string; ecrPublic: string }> = {
  mysql: {
    dockerHub: 'mysql:8.4.11@sha256:85b9bf2e29cf836ecb8c2a15a935d4ba0c606631dff1dd79531a11983c638f2a',
    ecrPublic: 'public.ecr.aws/docker/library/mysql:8.4.11',
  },
  mongodb: {
    dockerHub: 'mongo:8.0.29@sha256:29c9d10d63d35eab99e0fa272eebefc551b991f5216bf2a572b1d3f36adc9568',
    ecrPublic: 'public.ecr.aws/docker/library/mongo:8.0.29',
  },
};

/** How each engine's image is run and checked. */
interface EngineSpec {
  port: number;
  dataPath: string;
  uid: number;
  args: string[];
  env: (secretName: pulumi.Input<string>) => k8s.types.input.core.v1.EnvVar[];
  /** Whether the server answers, asked without any credential: a password change can never fail it. */
  probe: (port: number) => { exec: { command: string[] } };
  /** Writable paths besides the data volume (the root filesystem is read-only). */
  scratch: string[];
  /** Init scripts of the engine's own, run once on the first boot of an empty volume. */
  initScripts: Record<string, string>;
}

/** Requests and limits of either engine: room for a small buffer pool or cache beside the web tier on a t3.small. */
export const DATABASE_RESOURCES = { requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '768Mi' } };

/** MongoDB's first boot creates only the administrator; this script, run once, adds the application's user. */
const MONGO_INIT_SCRIPT = `// Runs once, on the first boot of an empty volume.
const database = process.env.MONGO_INITDB_DATABASE;
db.getSiblingDB(database).createUser({
  user: process.env.APP_USER,
  pwd: process.env.APP_PASSWORD,
  roles: [{ role: 'readWrite', db: database }],
});
`;

/**
 * MongoDB's `ping` as an OP_MSG ({ ping: 1, $db: "admin" }, which needs no login): the probe passes when
 * the server at $POD_IP answers with a message header within 5 s.
 */
export function mongoPing(port: number): string {
  const document =
    '\\x1e\\x00\\x00\\x00\\x10ping\\x00\\x01\\x00\\x00\\x00\\x02$db\\x00\\x06\\x00\\x00\\x00admin\\x00\\x00';
  const header =
    '\\x33\\x00\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\xdd\\x07\\x00\\x00\\x00\\x00\\x00\\x00\\x00';
  return `exec 3<>"/dev/tcp/$POD_IP/${port}" && printf '${header}${document}' >&3 && [ "$(timeout 5 head -c 4 <&3 | wc -c)" = 4 ]`;
}

/** The database pod's scheduling priority; the web pods keep the default, 0. */
const DATABASE_PRIORITY = 1000;

/** A login no database has: `mysqladmin ping` exits 0 when the server answers, even to refuse it. */
const PROBE_USER = 'two-tier-probe';

export const ENGINES: Record<DbEngine, EngineSpec> = {
  mysql: {
    port: 3306,
    dataPath: '/var/lib/mysql',
    uid: 999,
    // The performance schema alone takes a few hundred MiB, too much beside the web tier on a t3.small.
    // Nothing replicates from it, and 8.4 keeps binary logs 30 days: a write load would fill the volume.
    args: ['--performance-schema=OFF', '--skip-name-resolve', '--skip-log-bin'],
    env: (secret) => [
      { name: 'MYSQL_ROOT_PASSWORD', valueFrom: fromSecret(secret, 'root-password') },
      { name: 'MYSQL_DATABASE', value: APP_DATABASE },
      { name: 'MYSQL_USER', value: APP_USER },
      { name: 'MYSQL_PASSWORD', valueFrom: fromSecret(secret, 'password') },
    ],
    // Over TCP: the entrypoint's first-boot server listens on its socket only, so first boot is not "up".
    probe: (port) => ({
      exec: {
        command: [
          'mysqladmin',
          '--no-defaults',
          '--protocol=tcp',
          '--host=127.0.0.1',
          `--port=${port}`,
          '--connect-timeout=5',
          `--user=${PROBE_USER}`,
          'ping',
        ],
      },
    }),
    scratch: ['/var/run/mysqld', '/tmp'],
    initScripts: {},
  },
  mongodb: {
    port: 27017,
    dataPath: '/data/db',
    uid: 999,
    args: ['--wiredTigerCacheSizeGB', '0.25'],
    env: (secret) => [
      { name: 'MONGO_INITDB_ROOT_USERNAME', value: 'root' },
      { name: 'MONGO_INITDB_ROOT_PASSWORD', valueFrom: fromSecret(secret, 'root-password') },
      { name: 'MONGO_INITDB_DATABASE', value: APP_DATABASE },
      { name: 'APP_USER', value: APP_USER },
      { name: 'APP_PASSWORD', valueFrom: fromSecret(secret, 'password') },
      { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    ],
    // A ping in the wire protocol, from bash: no mongosh (0.8 s of CPU and 128 MiB a time), no credential,
    // and an answer is needed (a TCP connect succeeds while the server hangs: the kernel accepts for it).
    // To the pod's address: the entrypoint's first-boot server listens on 127.0.0.1 only.
    probe: (port) => ({ exec: { command: ['bash', '-c', mongoPing(port)] } }),
    scratch: ['/data/configdb', '/tmp'],
    initScripts: { 'create-app-user.js': MONGO_INIT_SCRIPT },
  },
};

/** The database tier's Service name for an engine: what the web tier connects to, and an engine switch copies from. */
export function serviceNameOf(name: string, engine: DbEngine): string {
  return `${name}-${engine}`;
}

/**
 * The database tier: one StatefulSet pod on a persistent volume, reachable only inside the cluster,
 * by its Service's DNS name. Its passwords are generated once and kept in the stack's state, so they
 * never change by themselves (the volume keeps the credentials of its first boot).
 */
export class Database extends pulumi.ComponentResource {
  public readonly engine: DbEngine;
  /** The ClusterIP Service's DNS name: what the web tier connects to. */
  public readonly host: pulumi.Output<string>;
  public readonly port: number;
  public readonly serviceName: pulumi.Output<string>;
  /** The Secret holding `username`, `password`, `root-password` and, for MongoDB, `url`. */
  public readonly secretName: pulumi.Output<string>;
  public readonly claimName: pulumi.Output<string>;
  /** A one-way, deliberately slow hash of the Secret's data: changes with any password, reveals none. */
  public readonly credentialsChecksum: pulumi.Output<string>;

  constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super('twotier:infra:Database', name, {}, opts);
    const spec = ENGINES[args.engine];
    const labels = tierLabels('database');
    const k8sOpts = { parent: this, provider: args.provider };
    const metadata = (suffix: string) => ({ name: `${name}-${suffix}`, namespace: args.namespace, labels });

    const password = args.password ?? generated(`${name}-password`, this);
    const rootPassword = args.rootPassword ?? generated(`${name}-root-password`, this);

    this.serviceName = pulumi.output(serviceNameOf(name, args.engine));
    this.host = pulumi.interpolate`${this.serviceName}.${args.namespace}.svc.cluster.local`;
    this.port = spec.port;
    this.engine = args.engine;

    const stringData = {
      username: APP_USER,
      password: pulumi.secret(password),
      'root-password': pulumi.secret(rootPassword),
      ...(args.engine === 'mongodb'
        ? {
            url: pulumi.secret(
              pulumi.interpolate`mongodb://${APP_USER}:${pulumi.output(password).apply(encodeURIComponent)}@${this.host}:${spec.port}/${APP_DATABASE}?authSource=${APP_DATABASE}`,
            ),
          }
        : {}),
    };
    this.credentialsChecksum = pulumi.unsecret(
      pulumi
        .all([stringData, args.namespace])
        .apply(([data, namespace]) => credentialsChecksum(JSON.stringify(data), namespace)),
    );
    const secret = new k8s.core.v1.Secret(
      `${name}-credentials`,
      {
        metadata: metadata('credentials'),
        type: 'Opaque',
        stringData,
      },
      k8sOpts,
    );
    this.secretName = secret.metadata.name;

    // Named after the engine like the StatefulSet that mounts it: one shared across a switch would be
    // replaced (its data is immutable to the provider), and the old engine's StatefulSet deleted with it first.
    const initScripts = new k8s.core.v1.ConfigMap(
      `${name}-${args.engine}-init`,
      {
        metadata: metadata(`${args.engine}-init`),
        data: { ...spec.initScripts, [FIRST_BOOT_DONE_SCRIPT]: firstBootDone() },
      },
      k8sOpts,
    );

    // Cluster-wide, so named after the namespace: above the web tier's 0, it may take a web pod's place.
    const priority = new k8s.scheduling.v1.PriorityClass(
      `${name}-priority`,
      {
        metadata: { name: pulumi.interpolate`${args.namespace}-database`, labels },
        value: DATABASE_PRIORITY,
        globalDefault: false,
        preemptionPolicy: 'PreemptLowerPriority',
        description: 'The database pod: placed before the web pods, on the node in the zone of its volume',
      },
      k8sOpts,
    );

    const claimName = `${name}-${args.engine}-data`;
    const volume = args.dataVolume?.(claimName, {
      namespace: args.namespace,
      claimName,
      sizeGi: args.volumeSizeGi,
      keep: args.protectData,
      parent: this,
    });
    const claim = new k8s.core.v1.PersistentVolumeClaim(
      claimName,
      {
        metadata: {
          ...metadata(`${args.engine}-data`),
          // The claim binds only once its pod is scheduled (WaitForFirstConsumer): do not wait for it here.
          annotations: { 'pulumi.com/skipAwait': 'true' },
        },
        spec: {
          accessModes: ['ReadWriteOnce'],
          storageClassName: args.storageClassName,
          volumeName: volume?.metadata.name,
          resources: { requests: { storage: `${args.volumeSizeGi}Gi` } },
        },
      },
      // No `protect`: destroy must never stop half-way with the cluster still billing.
      {
        ...k8sOpts,
        retainOnDelete: args.protectData && !volume,
        dependsOn: [...(volume ? [volume] : []), ...(args.dependsOn ?? [])],
      },
    );
    this.claimName = claim.metadata.name;

    const headless = new k8s.core.v1.Service(
      `${name}-${args.engine}-headless`,
      {
        metadata: metadata(`${args.engine}-headless`),
        spec: {
          clusterIP: 'None',
          selector: labels,
          ports: [{ name: args.engine, port: spec.port, targetPort: args.engine }],
          publishNotReadyAddresses: true,
        },
      },
      k8sOpts,
    );

    const service = new k8s.core.v1.Service(
      `${name}-${args.engine}-service`,
      {
        metadata: { ...metadata(args.engine), name: this.serviceName },
        spec: {
          type: 'ClusterIP',
          selector: labels,
          ports: [{ name: args.engine, port: spec.port, targetPort: args.engine }],
        },
      },
      k8sOpts,
    );

    const allowWeb = allowIngress(
      `${name}-allow-web`,
      { namespace: args.namespace, tier: 'database', port: spec.port, from: 'web' },
      k8sOpts,
    );

    const probe = (periodSeconds: number, failureThreshold: number) => ({
      ...spec.probe(spec.port),
      periodSeconds,
      timeoutSeconds: 10,
      failureThreshold,
    });

    const statefulSet = new k8s.apps.v1.StatefulSet(
      `${name}-${args.engine}-statefulset`,
      {
        metadata: metadata(args.engine),
        spec: {
          serviceName: headless.metadata.name,
          replicas: 1,
          // OrderedReady never replaces a pod that is not Ready, so a corrected `up` could not roll a broken one.
          podManagementPolicy: 'Parallel',
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              automountServiceAccountToken: false,
              priorityClassName: priority.metadata.name,
              securityContext: restrictedPod(spec.uid),
              terminationGracePeriodSeconds: 60,
              containers: [
                {
                  name: args.engine,
                  image: args.image,
                  imagePullPolicy: 'IfNotPresent',
                  command: ['bash', '-c', firstBootGuard(spec.dataPath), 'first-boot-guard'],
                  args: ['docker-entrypoint.sh', ...spec.args],
                  env: spec.env(this.secretName),
                  ports: [{ name: args.engine, containerPort: spec.port }],
                  // First boot initialises the data directory: up to 5 minutes before liveness applies.
                  startupProbe: probe(5, 60),
                  // Out of the Service after 30 s without an answer; restarted only after 2 minutes.
                  readinessProbe: probe(10, 3),
                  livenessProbe: probe(20, 6),
                  resources: DATABASE_RESOURCES,
                  securityContext: restrictedContainer,
                  volumeMounts: [
                    // A subdirectory: a fresh ext4 volume holds lost+found, which MySQL refuses to initialise over.
                    { name: 'data', mountPath: spec.dataPath, subPath: 'data' },
                    { name: 'data', mountPath: FIRST_BOOT_STATE, subPath: 'two-tier' },
                    ...spec.scratch.map((mountPath, index) => ({ name: `scratch-${index}`, mountPath })),
                    { name: 'init', mountPath: '/docker-entrypoint-initdb.d', readOnly: true },
                  ],
                },
              ],
              volumes: [
                { name: 'data', persistentVolumeClaim: { claimName: this.claimName } },
                ...spec.scratch.map((_, index) => ({ name: `scratch-${index}`, emptyDir: {} })),
                { name: 'init', configMap: { name: initScripts.metadata.name } },
              ],
            },
          },
        },
      },
      { ...k8sOpts, dependsOn: args.dependsOn },
    );

    // Deleted before what it depends on: the server, its Services and the web pods' way in stay until it is gone.
    new DeleteDelay(
      `${name}-${args.engine}-outlives-clients`,
      { seconds: args.outlivesClientsBy },
      { parent: this, dependsOn: [statefulSet, service, headless, allowWeb] },
    );

    this.registerOutputs({
      host: this.host,
      serviceName: this.serviceName,
      secretName: this.secretName,
      claimName: this.claimName,
    });
  }
}

/** A password made once and kept in the state: later `up`s never change it. */
function generated(name: string, parent: pulumi.Resource): pulumi.Output<string> {
  return new random.RandomPassword(name, { length: 32, special: false }, { parent }).result;
}

/** scrypt with a per-namespace salt: pods roll on a new password, and the annotation cannot be reversed to one. */
function credentialsChecksum(data: string, namespace: string): string {
  return scryptSync(data, `two-tier:${namespace}:credentials`, 32, {
    N: 2 ** 15,
    r: 8,
    p: 1,
    maxmem: 64 * 1024 * 1024,
  }).toString('hex');
}
