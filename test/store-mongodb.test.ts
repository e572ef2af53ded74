import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { CommandStartedEvent, MongoClient } from 'mongodb';
import { MongoStore } from '../service/src/stores/mongodb';
import { runStoreContract } from './support/store-contract';
import { describeMongo, stopFerretdb, storeFixtures, unavailable } from './support/stores';

/** The driver's client inside a store, whose command monitoring the tests switch on. */
const clientOf = (store: MongoStore) => (store as unknown as { client: MongoClient }).client;

test('every collection of the MongoDB store writes with w:1 and j:true (no server needed)', () => {
  const store = new MongoStore({ url: 'mongodb://127.0.0.1:1/', database: 'unused' });
  const db = clientOf(store).db('unused');
  for (const name of ['messages', 'documents', 'idempotency_keys']) {
    const concern = db.collection(name).writeConcern;
    assert.equal(concern?.w, 1, `${name}: w`);
    assert.equal(concern?.journal, true, `${name}: journal`);
  }
  return store.close();
});

describe('MongoDB store', { skip: unavailable('mongodb') }, () => {
  test('which MongoDB these tests run on', (t) => t.diagnostic(describeMongo()));

  runStoreContract('mongodb', storeFixtures.mongodb);

  test("every write the store sends carries writeConcern {w:1, j:true}, as the driver's command monitoring sees it", async () => {
    const fixture = await storeFixtures.mongodb();
    const store = fixture.store as MongoStore;
    const client = clientOf(store);
    // A setter the driver has and its types do not declare; the pool is opened after this, at connect().
    (client as unknown as { monitorCommands: boolean }).monitorCommands = true;
    const writes: CommandStartedEvent[] = [];
    client.on('commandStarted', (event) => {
      if (['insert', 'update', 'delete', 'findAndModify', 'createIndexes'].includes(event.commandName))
        writes.push(event);
    });
    try {
      await store.connect();
      await store.addMessage('journaled', new Date());
      await store.addMessage('journaled, keyed', new Date(), { key: 'k', fingerprint: 'f' });
      await store.addDocument({ journaled: true }, { key: 'd', fingerprint: 'f' });
      await store.purgeExpiredKeys(new Date(Date.now() + 48 * 3_600_000), 10);
      const names = new Set(writes.map((event) => event.commandName));
      for (const name of ['insert', 'delete', 'createIndexes']) assert.ok(names.has(name), `no ${name} was seen`);
      for (const event of writes) {
        assert.deepEqual(
          event.command.writeConcern,
          { w: 1, j: true },
          `${event.commandName} without a journaled write concern`,
        );
      }
    } finally {
      await store.close();
      await fixture.drop();
    }
  });
});

after(stopFerretdb);
