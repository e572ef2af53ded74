import type * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import type { ClusterTarget } from './cluster';
import { credentials } from './database/credentials';
import { type DbEngine, ENGINES } from './database/engines';
import { databaseServices } from './database/services';
import { databaseStatefulSet } from './database/statefulset';
import { dataClaim } from './database/storage';
import { DeleteDelay } from './delete-delay';
import type { TierObjects } from './labels';

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

/** Requests and limits of either engine: room for a small buffer pool or cache beside the web tier on a t3.small. */
export const DATABASE_RESOURCES = { requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '768Mi' } };

/** The database tier's Service name for an engine: what the web tier connects to, and an engine switch copies from. */
export function serviceNameOf(name: string, engine: DbEngine): string {
  return `${name}-${engine}`;
}

/**
 * The database tier: one StatefulSet pod on a persistent volume, reachable only inside the cluster,
 * by its Service's DNS name. Its passwords are generated once and kept in the stack's state, so they
 * never change by themselves (the volume keeps the credentials of its first boot). Its parts live in
 * infra/database/: the engines, the credentials, the claim, the StatefulSet, the Services and policy.
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
    const tier: TierObjects = {
      name,
      parent: this,
      tier: 'database',
      namespace: args.namespace,
      provider: args.provider,
    };
    const { engine } = args;
    this.engine = engine;
    this.port = ENGINES[engine].port;
    this.serviceName = pulumi.output(serviceNameOf(name, engine));
    this.host = pulumi.interpolate`${this.serviceName}.${args.namespace}.svc.cluster.local`;

    const secret = credentials(tier, { ...args, host: this.host, port: this.port });
    this.secretName = secret.secretName;
    this.credentialsChecksum = secret.checksum;
    this.claimName = dataClaim(tier, args).metadata.name;
    const { headless, service, allowWeb } = databaseServices(tier, {
      engine,
      port: this.port,
      serviceName: this.serviceName,
    });
    const statefulSet = databaseStatefulSet(tier, {
      engine,
      image: args.image,
      resources: DATABASE_RESOURCES,
      secretName: this.secretName,
      claimName: this.claimName,
      headlessServiceName: headless.metadata.name,
      dependsOn: args.dependsOn,
    });

    // Deleted before what it depends on: the server, its Services and the web pods' way in stay until it is gone.
    new DeleteDelay(
      `${name}-${engine}-outlives-clients`,
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
