import mysql from 'mysql2/promise';
import { MemoryStore } from '../../service/src/stores/memory';
import { MongoStore } from '../../service/src/stores/mongodb';
import { MysqlStore } from '../../service/src/stores/mysql';
import type { Store } from '../../service/src/stores/store';
import { FerretdbInstance, mongoUnavailable } from './ferretdb';

export type Engine = 'memory' | 'mysql' | 'mongodb';
export const ENGINES: Engine[] = ['memory', 'mysql', 'mongodb'];

/** A store on a database of its own; whoever uses the store closes it, then calls `drop()`. */
export interface StoreFixture {
  store: Store;
  /** The service's environment for the same database, for a process of its own. */
  env: Record<string, string>;
  /** Removes the fixture's database. */
  drop(): Promise<void>;
}

/** The machine's MariaDB (CI has one); override with the usual MYSQL_* variables. */
export const MYSQL = {
  host: process.env.MYSQL_HOST ?? '127.0.0.1',
  port: Number(process.env.MYSQL_PORT ?? 3306),
  user: process.env.MYSQL_USER ?? 'root',
  password: process.env.MYSQL_PASSWORD ?? '',
};

/** The service's environment for a database of its own on the machine's MariaDB (or one on another port). */
export function mysqlEnv(database: string, port = MYSQL.port): Record<string, string> {
  return {
    DB_ENGINE: 'mysql',
    MYSQL_HOST: MYSQL.host,
    MYSQL_PORT: String(port),
    MYSQL_USER: MYSQL.user,
    MYSQL_PASSWORD: MYSQL.password,
    MYSQL_DATABASE: database,
  };
}

/** The service's environment for a database of its own on the MongoDB the tests use (see `mongoUrl`). */
export async function mongoEnv(database: string): Promise<Record<string, string>> {
  return { DB_ENGINE: 'mongodb', MONGODB_URL: await mongoUrl(), MONGODB_DATABASE: database };
}

/** Removes a test database from the MongoDB the tests use. */
export async function dropMongoDatabase(database: string): Promise<void> {
  const { MongoClient } = await import('mongodb');
  const client = new MongoClient(await mongoUrl(), { serverSelectionTimeoutMS: 2_000 });
  await client.db(database).dropDatabase();
  await client.close();
}

/** Removes a test database from the machine's MariaDB. */
export async function dropMysqlDatabase(database: string): Promise<void> {
  const connection = await mysql.createConnection(MYSQL);
  await connection.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await connection.end();
}

let databases = 0;
/** A database name no other test of this run uses. */
export function uniqueName(): string {
  return `two_tier_test_${process.pid}_${++databases}`;
}

let ferretdb: Promise<FerretdbInstance> | undefined;

/** Where the MongoDB tests run: a real MongoDB at MONGODB_URL, otherwise a FerretDB of this test file's own. */
export async function mongoUrl(): Promise<string> {
  if (process.env.MONGODB_URL) return process.env.MONGODB_URL;
  ferretdb ??= (async () => {
    const instance = await FerretdbInstance.create();
    await instance.start();
    return instance;
  })();
  return (await ferretdb).url;
}

/** Why a test of `engine` must be skipped here, or `false`; see `mongoUnavailable`. */
export function unavailable(engine: Engine): string | false {
  return engine === 'mongodb' ? mongoUnavailable() : false;
}

export function describeMongo(): string {
  return process.env.MONGODB_URL
    ? 'MongoDB tests run on the MongoDB at MONGODB_URL'
    : 'MongoDB tests run on FerretDB (SQLite backend), started by the tests (MONGODB_URL is not set)';
}

/** Stops the FerretDB this file started, if any; call it once at the end of a test file. */
export async function stopFerretdb(): Promise<void> {
  if (ferretdb) await (await ferretdb).destroy();
  ferretdb = undefined;
}

export const storeFixtures: Record<Engine, () => Promise<StoreFixture>> = {
  async memory() {
    return { store: new MemoryStore(), env: { DB_ENGINE: 'memory' }, drop: async () => {} };
  },

  async mysql() {
    const database = uniqueName();
    return {
      store: new MysqlStore({ ...MYSQL, database }),
      env: mysqlEnv(database),
      drop: () => dropMysqlDatabase(database),
    };
  },

  async mongodb() {
    const url = await mongoUrl();
    const database = uniqueName();
    return {
      store: new MongoStore({ url, database }),
      env: { DB_ENGINE: 'mongodb', MONGODB_URL: url, MONGODB_DATABASE: database },
      drop: () => dropMongoDatabase(database),
    };
  },
};
