import mysql from 'mysql2/promise';
import { MemoryStore } from '../../service/src/stores/memory';
import { MongoStore } from '../../service/src/stores/mongodb';
import { MysqlStore } from '../../service/src/stores/mysql';
import type { Store } from '../../service/src/stores/store';
import { MongoWireServer } from './mongo-wire-server';

export type Engine = 'memory' | 'mysql' | 'mongodb';
export const ENGINES: Engine[] = ['memory', 'mysql', 'mongodb'];

/** A store on a database of its own; whoever uses the store closes it, then calls `drop()`. */
export interface StoreFixture {
  store: Store;
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

/** Removes a test database from the machine's MariaDB. */
export async function dropMysqlDatabase(database: string): Promise<void> {
  const connection = await mysql.createConnection(MYSQL);
  await connection.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await connection.end();
}

let databases = 0;
function uniqueName(): string {
  return `two_tier_test_${process.pid}_${++databases}`;
}

let wireServer: Promise<{ server: MongoWireServer; url: string }> | undefined;

/** Where the MongoDB tests run: a real MongoDB at MONGODB_URL, otherwise the in-process wire server. */
export async function mongoUrl(): Promise<string> {
  if (process.env.MONGODB_URL) return process.env.MONGODB_URL;
  wireServer ??= (async () => {
    const server = new MongoWireServer();
    return { server, url: await server.start() };
  })();
  return (await wireServer).url;
}

export function describeMongo(): string {
  return process.env.MONGODB_URL
    ? 'MongoDB tests run on the real MongoDB at MONGODB_URL'
    : 'MongoDB tests run on the in-process wire-protocol server (MONGODB_URL is not set; no mongod on this machine)';
}

/** Stops the wire server, if one was started; call it once at the end of a test file. */
export async function stopMongoWireServer(): Promise<void> {
  if (wireServer) await (await wireServer).server.stop();
  wireServer = undefined;
}

export const storeFixtures: Record<Engine, () => Promise<StoreFixture>> = {
  async memory() {
    return { store: new MemoryStore(), drop: async () => {} };
  },

  async mysql() {
    const database = uniqueName();
    return { store: new MysqlStore({ ...MYSQL, database }), drop: () => dropMysqlDatabase(database) };
  },

  async mongodb() {
    const url = await mongoUrl();
    const database = uniqueName();
    return {
      store: new MongoStore({ url, database }),
      async drop() {
        const { MongoClient } = await import('mongodb');
        const client = new MongoClient(url, { serverSelectionTimeoutMS: 2_000 });
        await client.db(database).dropDatabase();
        await client.close();
      },
    };
  },
};
