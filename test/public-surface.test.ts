import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BSON } from 'mongodb';
import { buildApp } from '../service/src/app';
import { loadConfig } from '../service/src/config';
import { MemoryStore } from '../service/src/stores/memory';
import { MongoStore } from '../service/src/stores/mongodb';
import { MysqlStore } from '../service/src/stores/mysql';
import { assertClientError, scrape, startApp, type TestApp, waitFor } from './support/app';
import { UNTHROTTLED } from './support/server-process';
import { ENGINES, MYSQL, stopFerretdb, unavailable } from './support/stores';

const json = { 'content-type': 'application/json' };

/** The store error counter's total over every operation, as the metrics listener shows it. */
async function storeErrorsCounted(app: TestApp['app']): Promise<number> {
  const lines = (await scrape(app)).split('\n').filter((line) => line.startsWith('store_operation_errors_total{'));
  return lines.reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

for (const engine of ENGINES) {
  describe(`the public surface on ${engine}`, { skip: unavailable(engine) }, () => {
    let t: TestApp;
    before(async () => {
      t = await startApp(engine);
    });
    after(() => t.close());

    const post = (url: string, payload: unknown, headers: Record<string, string> = json) =>
      t.app.inject({
        method: 'POST',
        url,
        headers,
        payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
      });
    const stored = async () => (await t.app.store.listDocuments({ limit: 500 })).items.length;

    test('a "_bsontype" key is a 400 that names it, stores nothing, counts no database error and leaves /ready at 200', async () => {
      const documents = await stored();
      const errors = await storeErrorsCounted(t.app);
      for (const body of [
        { x: { _bsontype: 'Code', code: '1' } },
        { _bsontype: 'ObjectId' },
        { a: [{ _bsontype: 'x' }] },
      ]) {
        assertClientError(await post('/data', body), 400, /_bsontype/);
      }
      assert.equal(await stored(), documents, 'a refused document was stored');
      assert.equal(await storeErrorsCounted(t.app), errors, 'a client error was counted as a database error');
      assert.equal((await t.app.inject('/ready')).statusCode, 200);
    });
  });
}

describe('an error about the data is the client\'s, never "the database is unavailable"', () => {
  test("MongoDB: the BSON serializer's refusal and the server's refusal of a document name the problem", () => {
    const store = new MongoStore({ url: 'mongodb://127.0.0.1:1', database: 'unused' });
    const serializer = (() => {
      try {
        BSON.serialize({ x: { _bsontype: 'Code', code: '1' } });
      } catch (error) {
        return error;
      }
      assert.fail('the BSON serializer took a "_bsontype" key');
    })();
    assert.match(store.refusal(serializer) ?? '', /cannot be stored as BSON/);
    assert.equal(store.refusal(new Error('connection reset')), undefined, 'an outage was called a data error');
  });

  test('MySQL: a value the server refuses names the problem; a lost connection is not a data error', () => {
    const store = new MysqlStore({ ...MYSQL, database: 'unused' });
    const outOfRange = Object.assign(new Error("Incorrect datetime value: '10000-01-01' for column"), { errno: 1292 });
    assert.match(store.refusal(outOfRange) ?? '', /time is outside the range/);
    assert.equal(store.refusal(Object.assign(new Error('gone'), { code: 'PROTOCOL_CONNECTION_LOST' })), undefined);
    return store.close();
  });

  test('a write the store reports as refused data answers 400 with its words; the database stays ready and uncounted', async () => {
    const store = new MemoryStore();
    const refusedData = new Error('refused by the driver');
    store.addDocument = () => Promise.reject(refusedData);
    store.refusal = (error) =>
      error === refusedData ? 'the document cannot be stored as BSON: a test refusal' : undefined;
    const app = await buildApp({ config: loadConfig({ ...UNTHROTTLED }), store, logger: false });
    try {
      await waitFor(async () => (await app.inject('/ready')).statusCode === 200, 'readiness');
      const response = await app.inject({ method: 'POST', url: '/data', headers: json, payload: '{"a":1}' });
      assertClientError(response, 400, /^the document cannot be stored as BSON: a test refusal$/);
      assert.equal((await app.inject('/ready')).statusCode, 200, 'a refused document made the service unready');
      assert.doesNotMatch(await scrape(app), /store_operation_errors_total\{operation="addDocument"\} [1-9]/);
    } finally {
      await app.close();
    }
  });
});

after(stopFerretdb);
