import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MysqlStore } from '../service/src/stores/mysql';
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
