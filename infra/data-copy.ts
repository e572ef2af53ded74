import type * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import type { Database } from './database';
import { APP_DATABASE, APP_USER, type DbEngine, ENGINES } from './database/engines';
import { allowIngress, fromSecret, restrictedContainer } from './labels';
import { databaseEnv, WEB_NODE_OPTIONS, WEB_RESOURCES } from './web-tier';

export interface DataCopyArgs {
  /** The namespace of the stack. */
  readonly namespace: pulumi.Input<string>;
  /** The cluster's Kubernetes provider. */
  readonly provider: k8s.Provider;
  /** Where the data goes: the database tier of this `up`'s engine. */
  readonly database: Database;
  /** Where it comes from: the stack's other engine and its Service's name, which exist until the `up` that leaves it ends. */
  readonly source: { readonly engine: DbEngine; readonly serviceName: string };
  /** The web image, which holds the data command (service/dist/data.js). */
  readonly image: pulumi.Input<string>;
}

/**
 * What carries the data over an engine switch: an init container of the web pods that adds to this
 * engine what the other engine's database holds and this one does not. The other engine's tier is
 * deleted only at the end of the `up` that switches, after the Deployment rolled, so every new pod
 * copies before it serves, and the old engine is gone only once all have. A pod started when the other
 * engine is gone finds its Service name unresolvable and starts at once (about 0.3 s).
 */
export class DataCopy extends pulumi.ComponentResource {
  /** The web pods' init container. */
  public readonly container: k8s.types.input.core.v1.Container;

  constructor(name: string, args: DataCopyArgs, opts?: pulumi.ComponentResourceOptions) {
    super('twotier:infra:DataCopy', name, {}, opts);
    const { engine, serviceName } = args.source;
    // The database tier admits the web pods on its own engine's port; during a switch they must reach the old one's too.
    allowIngress(
      `${name}-allow-web-${engine}`,
      { namespace: args.namespace, tier: 'database', port: ENGINES[engine].port, from: 'web' },
      { parent: this, provider: args.provider },
    );
    const host = pulumi.interpolate`${serviceName}.${args.namespace}.svc.cluster.local`;
    const secret = args.database.secretName;
    const sourceEnv =
      engine === 'mysql'
        ? [
            { name: 'SOURCE_MYSQL_HOST', value: host },
            { name: 'SOURCE_MYSQL_PORT', value: String(ENGINES.mysql.port) },
            { name: 'SOURCE_MYSQL_USER', valueFrom: fromSecret(secret, 'username') },
            { name: 'SOURCE_MYSQL_PASSWORD', valueFrom: fromSecret(secret, 'password') },
            { name: 'SOURCE_MYSQL_DATABASE', value: APP_DATABASE },
          ]
        : [
            // The Secret holds a MongoDB URL only while MongoDB is the engine; the password goes in separately.
            {
              name: 'SOURCE_MONGODB_URL',
              value: pulumi.interpolate`mongodb://${APP_USER}@${host}:${ENGINES.mongodb.port}/${APP_DATABASE}?authSource=${APP_DATABASE}`,
            },
            { name: 'SOURCE_MONGODB_PASSWORD', valueFrom: fromSecret(secret, 'password') },
            { name: 'SOURCE_MONGODB_DATABASE', value: APP_DATABASE },
          ];
    this.container = {
      name: 'copy-data',
      image: args.image,
      imagePullPolicy: 'IfNotPresent',
      // From the image's working directory, beside service/dist/server.js.
      command: ['node', 'service/dist/data.js', 'copy'],
      env: [
        { name: 'DB_ENGINE', value: args.database.engine },
        ...databaseEnv(args.database),
        { name: 'SOURCE_DB_ENGINE', value: engine },
        ...sourceEnv,
        { name: 'NODE_OPTIONS', value: WEB_NODE_OPTIONS },
      ],
      // The web container's own: the pod asks the scheduler for no more than before.
      resources: WEB_RESOURCES,
      securityContext: restrictedContainer,
    };
    this.registerOutputs({});
  }
}
