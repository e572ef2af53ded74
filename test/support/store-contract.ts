import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { Store } from '../../service/src/stores/store';
import type { StoreFixture } from './stores';

const INJECTIONS = [
  "'; DROP TABLE messages; --",
  '" OR "1"="1',
  '{"$gt": ""}',
  "Robert'); DELETE FROM documents WHERE ('1'='1",
  '<img src=x onerror=alert(1)>',
  'emoji 🚀 and NUL-free unicode: ünïcødé 中文',
];

/** The one behaviour every Store adapter must have; each adapter's test file hands in its fixture. */
export function runStoreContract(name: string, makeFixture: () => Promise<StoreFixture>): void {
  describe(`${name} store: the Store contract`, () => {
    let fixture: StoreFixture;
    let store: Store;

    beforeEach(async () => {
      fixture = await makeFixture();
      store = fixture.store;
      await store.connect();
    });

    afterEach(async () => {
      await store.close();
      await fixture.drop();
    });

    test('connecting again to a database that already has its schema changes nothing', async () => {
      const first = await store.addMessage('kept', new Date());
      await store.connect();
      const { items } = await store.listMessages({ limit: 10 });
      assert.deepEqual(items, [first], 'a second connect() lost or changed stored messages');
    });

    test('ping answers', async () => {
      await store.ping();
    });

    test('an empty store lists nothing and has no more pages', async () => {
      assert.deepEqual(await store.listMessages({ limit: 50 }), { items: [], hasMore: false });
      assert.deepEqual(await store.listDocuments({ limit: 50 }), { items: [], hasMore: false });
    });

    test('a message comes back as it was stored, with a string id and its ISO time', async () => {
      const createdAt = new Date('2026-01-02T03:04:05.678Z');
      const created = await store.addMessage('hello, world', createdAt);
      assert.equal(typeof created.id, 'string');
      assert.ok(store.isValidId(created.id), `the store does not accept its own id ${created.id} as a cursor`);
      assert.deepEqual(created, { id: created.id, message: 'hello, world', createdAt: createdAt.toISOString() });
      const { items } = await store.listMessages({ limit: 1 });
      assert.deepEqual(items, [created]);
    });

    test('SQL and NoSQL injection strings, HTML and unicode are stored and returned verbatim', async () => {
      for (const text of INJECTIONS) await store.addMessage(text, new Date());
      const { items } = await store.listMessages({ limit: 50 });
      assert.deepEqual(
        items.map((item) => item.message),
        [...INJECTIONS].reverse(),
      );
    });

    test('messages are listed newest first and paged by limit and before', async () => {
      const ids: string[] = [];
      for (let i = 1; i <= 7; i++) ids.push((await store.addMessage(`message ${i}`, new Date())).id);
      const first = await store.listMessages({ limit: 3 });
      assert.deepEqual(
        first.items.map((m) => m.message),
        ['message 7', 'message 6', 'message 5'],
      );
      assert.equal(first.hasMore, true);
      const second = await store.listMessages({ limit: 3, before: first.items[2]?.id });
      assert.deepEqual(
        second.items.map((m) => m.message),
        ['message 4', 'message 3', 'message 2'],
      );
      assert.equal(second.hasMore, true);
      const last = await store.listMessages({ limit: 3, before: second.items[2]?.id });
      assert.deepEqual(last, { items: [(await store.listMessages({ limit: 7 })).items[6]], hasMore: false });
      assert.equal(last.items[0]?.id, ids[0]);
      const exact = await store.listMessages({ limit: 7 });
      assert.equal(exact.hasMore, false, 'a page holding exactly the remaining items must not claim more');
    });

    test('documents round-trip with nested objects, arrays, numbers, booleans, null and key order', async () => {
      const document = {
        name: 'test',
        value: 123,
        ratio: 0.25,
        negative: -7,
        flags: [true, false, null],
        nested: { z: 1, a: { deeper: ['x', { y: 'z' }] } },
        text: INJECTIONS[2],
      };
      const created = await store.addDocument(document);
      assert.ok(store.isValidId(created.id));
      assert.deepEqual(created, { ...document, id: created.id });
      const { items } = await store.listDocuments({ limit: 5 });
      assert.deepEqual(items, [{ ...document, id: created.id }]);
      assert.deepEqual(Object.keys(items[0] ?? {}), [...Object.keys(document), 'id'], 'key order changed');
    });

    test('documents are paged newest first like messages', async () => {
      for (let i = 1; i <= 4; i++) await store.addDocument({ n: i });
      const first = await store.listDocuments({ limit: 2 });
      assert.deepEqual(
        first.items.map((d) => d.n),
        [4, 3],
      );
      assert.equal(first.hasMore, true);
      const second = await store.listDocuments({ limit: 2, before: first.items[1]?.id });
      assert.deepEqual(
        second.items.map((d) => d.n),
        [2, 1],
      );
      assert.equal(second.hasMore, false);
    });

    test('malformed cursors are recognised as such', () => {
      for (const bad of [
        '',
        'abc',
        '-1',
        '1.5',
        '0x10',
        ' 1',
        '1 ',
        '99999999999999999999999',
        'zzzzzzzzzzzzzzzzzzzzzzzz',
      ]) {
        assert.equal(store.isValidId(bad), false, `${JSON.stringify(bad)} was accepted as an id`);
      }
    });
  });
}
