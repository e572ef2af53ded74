import { scryptSync } from 'node:crypto';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import { objectMetadata, objectOptions, type TierObjects } from '../labels';
import { APP_DATABASE, APP_USER, type DbEngine } from './engines';

export interface CredentialsArgs {
  /** The engine: MongoDB's Secret also holds the application's connection URL. */
  readonly engine: DbEngine;
  /** The ClusterIP Service's DNS name, in MongoDB's URL. */
  readonly host: pulumi.Input<string>;
  /** The engine's port, in MongoDB's URL. */
  readonly port: number;
  /** The application user's password; generated when absent. */
  readonly password?: pulumi.Input<string>;
  /** The administrator's password; generated when absent. */
  readonly rootPassword?: pulumi.Input<string>;
}

export interface Credentials {
  /** The Secret holding `username`, `password`, `root-password` and, for MongoDB, `url`. */
  readonly secretName: pulumi.Output<string>;
  /** A one-way, deliberately slow hash of the Secret's data: changes with any password, reveals none. */
  readonly checksum: pulumi.Output<string>;
}

/** The tier's Secret, with the passwords given or generated once and kept in the stack's state. */
export function credentials(tier: TierObjects, args: CredentialsArgs): Credentials {
  const password = args.password ?? generated(`${tier.name}-password`, tier.parent);
  const rootPassword = args.rootPassword ?? generated(`${tier.name}-root-password`, tier.parent);
  const stringData = {
    username: APP_USER,
    password: pulumi.secret(password),
    'root-password': pulumi.secret(rootPassword),
    ...(args.engine === 'mongodb'
      ? {
          url: pulumi.secret(
            pulumi.interpolate`mongodb://${APP_USER}:${pulumi.output(password).apply(encodeURIComponent)}@${args.host}:${args.port}/${APP_DATABASE}?authSource=${APP_DATABASE}`,
          ),
        }
      : {}),
  };
  const checksum = pulumi.unsecret(
    pulumi
      .all([stringData, tier.namespace])
      .apply(([data, namespace]) => credentialsChecksum(JSON.stringify(data), namespace)),
  );
  const secret = new k8s.core.v1.Secret(
    `${tier.name}-credentials`,
    { metadata: objectMetadata(tier, 'credentials'), type: 'Opaque', stringData },
    objectOptions(tier),
  );
  return { secretName: secret.metadata.name, checksum };
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
