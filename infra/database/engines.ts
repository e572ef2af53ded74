import type * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';
import { fromSecret } from '../labels';

export type DbEngine = 'mysql' | 'mongodb';

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
export interface EngineSpec {
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
