/** The database tier as the lifecycle checks it: its objects, its users' passwords, logins inside its pod. */
import { createHash } from 'node:crypto';
import type { Cluster, KubeObject } from './cluster';
import { databasePod, exec, NAMESPACE } from './workloads';

export type Engine = 'mysql' | 'mongodb';

/** The StatefulSet, Secrets and claims of the namespace as identities: what a change that must not touch them would alter. */
export async function databaseState(cluster: Cluster): Promise<string[]> {
  const objects = [
    ...(await cluster.list('statefulset', NAMESPACE)),
    ...(await cluster.list('secret', NAMESPACE)),
    ...(await cluster.list('persistentvolumeclaim', NAMESPACE)),
  ];
  return objects.map(
    (object) => `${object.kind}/${object.metadata.name} ${object.metadata.uid} ${object.metadata.resourceVersion}`,
  );
}

/**
 * The README's first step: the new password set in the database itself, by its administrator; MySQL
 * keeps the old one valid beside it until the web pods have rolled.
 */
export async function changePasswordInTheDatabase(cluster: Cluster, engine: Engine, password: string): Promise<void> {
  const database = await databasePod(cluster);
  if (engine === 'mysql') {
    await asMysqlRoot(cluster, database, `ALTER USER 'app'@'%' IDENTIFIED BY '${password}' RETAIN CURRENT PASSWORD;`);
  } else {
    await exec(
      cluster,
      database,
      [
        'sh',
        '-c',
        'mongosh --quiet --norc --username="$MONGO_INITDB_ROOT_USERNAME" --password="$MONGO_INITDB_ROOT_PASSWORD" --authenticationDatabase=admin "mongodb://127.0.0.1:27017/$MONGO_INITDB_DATABASE"',
      ],
      `db.changeUserPassword('app', '${password}')\n`,
    );
  }
}

/** The README's last step on MySQL, once `up` has rolled the web pods: the old password discarded. */
export async function finishPasswordChange(cluster: Cluster, engine: Engine): Promise<void> {
  if (engine !== 'mysql') return;
  const database = await databasePod(cluster);
  await asMysqlRoot(cluster, database, `ALTER USER 'app'@'%' DISCARD OLD PASSWORD;`);
}

function asMysqlRoot(cluster: Cluster, database: KubeObject, statement: string): Promise<string> {
  return exec(cluster, database, ['sh', '-c', 'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mysql -uroot'], `${statement}\n`);
}

/** A login as the application's user with a password, over TCP inside the database pod; rejects when refused. */
export async function appLogin(cluster: Cluster, engine: Engine, password: string): Promise<void> {
  const database = await databasePod(cluster);
  const login =
    engine === 'mysql'
      ? 'MYSQL_PWD="$(cat)" mysql -h127.0.0.1 -uapp -e "SELECT 1" app'
      : 'mongosh --quiet --norc --username=app --password="$(cat)" --authenticationDatabase=app "mongodb://127.0.0.1:27017/app" --eval "db.runCommand({ ping: 1 }).ok"';
  await exec(cluster, database, ['sh', '-c', login], password);
}

/** The credentials Secret's data (base64) with another application password, in the url too (MongoDB). */
export function withPassword(data: Record<string, string>, password: string): Record<string, string> {
  const encode = (text: string) => Buffer.from(text).toString('base64');
  const url =
    data.url &&
    Buffer.from(data.url, 'base64')
      .toString()
      .replace(/:[^:@/]*@/, `:${encodeURIComponent(password)}@`);
  return { ...data, password: encode(password), ...(url ? { url: encode(url) } : {}) };
}

/** A digest of Secrets' data: tells a changed value without printing it. */
export function fingerprint(secrets: KubeObject[]): string {
  return createHash('sha256')
    .update(JSON.stringify(secrets.map((secret) => secret.data)))
    .digest('hex');
}
