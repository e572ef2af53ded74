import { scryptSync } from 'node:crypto';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import type { ClusterTarget } from './cluster';
import { allowIngress, fromSecret, restrictedContainer, restrictedPod, tierLabels } from './labels';

export type DbEngine = 'mysql' | 'mongodb';

export interface DatabaseArgs {
  /** mysql (MySQL 8.4 LTS) or mongodb (MongoDB 8.0). */
  readonly engine: DbEngine;
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
}

export const APP_DATABASE = 'app';
export const APP_USER = 'app';

/** The engine's image, pinned to a patch release, and how it is run and checked. */
interface EngineSpec {
  image: string;
  port: number;
  dataPath: string;
  uid: number;
  args: string[];
  env: (secretName: pulumi.Input<string>) => k8s.types.input.core.v1.EnvVar[];
  /** Fails when the server is down and when the application's credentials are refused. */
  check: string;
  /** Writable paths besides the data volume (the root filesystem is read-only). */
  scratch: string[];
}

/** Requests and limits of either engine: room for a small buffer pool or cache beside the web tier on a t3.small. */
export const DATABASE_RESOURCES = { requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '768Mi' } };

export const ENGINES: Record<DbEngine, EngineSpec> = {
  mysql: {
    image: 'mysql:8.4.11',
    port: 3306,
    dataPath: '/var/lib/mysql',
    uid: 999,
    // The performance schema alone takes a few hundred MiB, too much beside the web tier on a t3.small.
    args: ['--performance-schema=OFF', '--skip-name-resolve'],
    env: (secret) => [
      { name: 'MYSQL_ROOT_PASSWORD', valueFrom: fromSecret(secret, 'root-password') },
      { name: 'MYSQL_DATABASE', value: APP_DATABASE },
      { name: 'MYSQL_USER', value: APP_USER },
      { name: 'MYSQL_PASSWORD', valueFrom: fromSecret(secret, 'password') },
    ],
    check:
      'MYSQL_PWD="$MYSQL_PASSWORD" mysql --protocol=tcp -h 127.0.0.1 -u "$MYSQL_USER" -e "SELECT 1" "$MYSQL_DATABASE"',
    scratch: ['/var/run/mysqld', '/tmp'],
  },
  mongodb: {
    image: 'mongo:8.0.17',
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
    ],
    check:
      'mongosh --quiet --norc "mongodb://127.0.0.1:27017/$MONGO_INITDB_DATABASE" -u "$APP_USER" -p "$APP_PASSWORD" --eval "db.runCommand({ ping: 1 }).ok" | grep -qx 1',
    scratch: ['/data/configdb', '/tmp'],
  },
};

/** The database tier's Service name for an engine: what the web tier connects to, and an engine switch copies from. */
export function serviceNameOf(name: string, engine: DbEngine): string {
  return `${name}-${engine}`;
}

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

    const initScript =
      args.engine === 'mongodb'
        ? new k8s.core.v1.ConfigMap(
            `${name}-init`,
            { metadata: metadata('init'), data: { 'create-app-user.js': MONGO_INIT_SCRIPT } },
            k8sOpts,
          )
        : undefined;

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

    new k8s.core.v1.Service(
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

    allowIngress(
      `${name}-allow-web`,
      { namespace: args.namespace, tier: 'database', port: spec.port, from: 'web' },
      k8sOpts,
    );

    const probe = (periodSeconds: number, failureThreshold: number) => ({
      exec: { command: ['sh', '-c', spec.check] },
      periodSeconds,
      timeoutSeconds: 10,
      failureThreshold,
    });

    new k8s.apps.v1.StatefulSet(
      `${name}-${args.engine}-statefulset`,
      {
        metadata: metadata(args.engine),
        spec: {
          serviceName: headless.metadata.name,
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              automountServiceAccountToken: false,
              securityContext: restrictedPod(spec.uid),
              terminationGracePeriodSeconds: 60,
              containers: [
                {
                  name: args.engine,
                  image: spec.image,
                  imagePullPolicy: 'IfNotPresent',
                  args: spec.args,
                  env: spec.env(this.secretName),
                  ports: [{ name: args.engine, containerPort: spec.port }],
                  // First boot initialises the data directory: up to 5 minutes before liveness applies.
                  startupProbe: probe(5, 60),
                  readinessProbe: probe(10, 3),
                  livenessProbe: probe(20, 6),
                  resources: DATABASE_RESOURCES,
                  securityContext: restrictedContainer,
                  volumeMounts: [
                    // A subdirectory: a fresh ext4 volume holds lost+found, which MySQL refuses to initialise over.
                    { name: 'data', mountPath: spec.dataPath, subPath: 'data' },
                    ...spec.scratch.map((mountPath, index) => ({ name: `scratch-${index}`, mountPath })),
                    ...(initScript ? [{ name: 'init', mountPath: '/docker-entrypoint-initdb.d', readOnly: true }] : []),
                  ],
                },
              ],
              volumes: [
                { name: 'data', persistentVolumeClaim: { claimName: this.claimName } },
                ...spec.scratch.map((_, index) => ({ name: `scratch-${index}`, emptyDir: {} })),
                ...(initScript ? [{ name: 'init', configMap: { name: initScript.metadata.name } }] : []),
              ],
            },
          },
        },
      },
      { ...k8sOpts, dependsOn: args.dependsOn },
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
