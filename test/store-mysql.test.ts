import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import { MysqlStore, PREPARED_STATEMENTS } from '../service/src/stores/mysql';
import { runStoreContract } from './support/store-contract';
import { dropMysqlDatabase, MYSQL, storeFixtures, uniqueName } from './support/stores';

runStoreContract('mysql', storeFixtures.mysql);

test('mysql store: connect() returns with the whole pool logged in and idle, so a new pod serves its first burst without a login', async () => {
  for (const connectionLimit of [undefined, 3]) {
    const database = uniqueName();
    const store = new MysqlStore({ ...MYSQL, database, connectionLimit });
    try {
      assert.deepEqual(store.stats(), { open: 0, idle: 0, queued: 0 }, 'nothing is opened before connect()');
      await store.connect();
      const size = connectionLimit ?? 10;
      assert.deepEqual(store.stats(), { open: size, idle: size, queued: 0 });
      // Kept: the pool's idle limit is its size, so no idle timeout closes them.
      await store.listMessages({ limit: 1 });
      assert.equal(store.stats().open, size);
    } finally {
      await store.close();
      await dropMysqlDatabase(database);
    }
  }
});

test("mysql store: after the database dropped every connection, the readiness probe's ping opens the pool again in the background", async () => {
  const database = uniqueName();
  const store = new MysqlStore({ ...MYSQL, database });
  const root = await mysql.createConnection(MYSQL);
  try {
    await store.connect();
    const [rows] = await root.query('SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ?', [database]);
    const ids = (rows as { ID: number }[]).map((row) => row.ID);
    assert.equal(ids.length, 10, "the server sees the pool's connections");
    for (const id of ids) await root.query(`KILL ${id}`);
    const until = async (what: string, check: () => boolean) => {
      for (const deadline = Date.now() + 5_000; !check(); await sleep(20))
        assert.ok(Date.now() < deadline, `${what}: ${JSON.stringify(store.stats())}`);
    };
    await until('the killed connections leave the pool', () => store.stats().open === 0);
    await store.ping();
    await until('the ping tops the pool up', () => store.stats().open === 10 && store.stats().idle === 10);
  } finally {
    await root.end();
    await store.close();
    await dropMysqlDatabase(database);
  }
});

test('mysql store: every statement it runs stays prepared: a second pass over every operation prepares nothing again', async () => {
  const database = uniqueName();
  const store = new MysqlStore({ ...MYSQL, database, connectionLimit: 1 });
  // The pool's one connection is the one every operation runs on; MariaDB counts its prepares per session.
  const pool = (store as unknown as { pool: { promise(): mysql.Pool } }).pool.promise();
  const prepares = async () => {
    const [rows] = await pool.query("SHOW SESSION STATUS LIKE 'Com_stmt_prepare'");
    return Number((rows as { Value: string }[])[0]?.Value);
  };
  let pass = 0;
  const everyOperation = async () => {
    pass++;
    const message = await store.addMessage(`pass ${pass}`, new Date());
    await store.addMessage(`keyed ${pass}`, new Date(), { key: `key-${pass}`, fingerprint: 'a'.repeat(64) });
    await store.addMessage(`keyed ${pass}`, new Date(), { key: `key-${pass}`, fingerprint: 'a'.repeat(64) });
    await store.listMessages({ limit: 1 });
    await store.listMessages({ limit: 1, before: message.id });
    const document = await store.addDocument({ pass });
    await store.addDocument({ pass }, { key: `doc-${pass}`, fingerprint: 'b'.repeat(64) });
    await store.listDocuments({ limit: 1 });
    await store.listDocuments({ limit: 1, before: document.id });
    await store.purgeExpiredKeys(new Date(), 10);
    await store.ping();
  };
  try {
    await store.connect();
    const before = await prepares();
    await everyOperation();
    const first = (await prepares()) - before;
    assert.ok(first > 0 && first <= PREPARED_STATEMENTS, `the first pass prepared ${first} statements`);
    const after = await prepares();
    await everyOperation();
    assert.equal((await prepares()) - after, 0, 'nothing was prepared again');
  } finally {
    await store.close();
    await dropMysqlDatabase(database);
  }
});
