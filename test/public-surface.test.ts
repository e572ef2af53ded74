import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { BSON } from 'mongodb';
import mysql from 'mysql2/promise';
import { buildApp, CONNECTION_TIMEOUTS, LOAD_BALANCER_IDLE_MS } from '../service/src/app';
import { loadConfig } from '../service/src/config';
import { MemoryStore } from '../service/src/stores/memory';
import { MongoStore } from '../service/src/stores/mongodb';
import { MysqlStore } from '../service/src/stores/mysql';
import { IDEMPOTENCY_TTL_MS, type Store } from '../service/src/stores/store';
import { appForSuite, assertClientError, JSON_BODY, scrape, type TestApp, waitFor } from './support/app';
import { UNTHROTTLED } from './support/server-process';
import { ENGINES, MYSQL, stopFerretdb, storeFixtures, unavailable } from './support/stores';

const json = JSON_BODY;

/** The store error counter's total over every operation, as the metrics listener shows it. */
async function storeErrorsCounted(app: TestApp['app']): Promise<number> {
  const lines = (await scrape(app)).split('\n').filter((line) => line.startsWith('store_operation_errors_total{'));
  return lines.reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

for (const engine of ENGINES) {
  describe(`the public surface on ${engine}`, { skip: unavailable(engine) }, () => {
    const t = appForSuite(engine);
    const post = t.post;
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

    test('an Idempotency-Key in the service\'s own namespace ("transfer:") is a 400 and stores nothing', async () => {
      const before = (await t.app.store.listMessages({ limit: 500 })).items.length;
      const key = `transfer:${'0'.repeat(64)}`;
      assertClientError(
        await post('/messages', { message: 'squatting' }, { ...json, 'idempotency-key': key }),
        400,
        /idempotency-key/,
      );
      assertClientError(await post('/data', { squatting: true }, { ...json, 'idempotency-key': key }), 400);
      assert.equal((await t.app.store.listMessages({ limit: 500 })).items.length, before);
      assert.equal(
        (await post('/messages', { message: 'fine' }, { ...json, 'idempotency-key': 'my-transfer:1' })).statusCode,
        201,
      );
    });

    test('expired idempotency keys are purged in bounded batches, oldest first, and their keys are free again', async () => {
      const fixture = await storeFixtures[engine]();
      const { store } = fixture;
      try {
        await store.connect();
        for (const n of [1, 2, 3])
          await store.addMessage(`keyed ${n}`, new Date(), { key: `aging-${n}`, fingerprint: `f${n}` });
        assert.equal(await store.purgeExpiredKeys(new Date(), 10), 0, 'a live key was purged');
        await assert.rejects(
          store.addMessage('other', new Date(), { key: 'aging-1', fingerprint: 'other' }),
          /already used/,
        );
        const later = new Date(Date.now() + IDEMPOTENCY_TTL_MS + 1_000);
        assert.equal(await store.purgeExpiredKeys(later, 2), 2, 'the batch bound was not kept');
        assert.equal(await store.purgeExpiredKeys(later, 2), 1);
        assert.equal(await store.purgeExpiredKeys(later, 2), 0);
        const reused = await store.addMessage('reused', new Date(), { key: 'aging-1', fingerprint: 'other' });
        assert.equal(reused.message, 'reused', 'a purged key still answered with its old item');
      } finally {
        await store.close();
        await fixture.drop();
      }
    });

    test('12 concurrent retries with one Idempotency-Key all get the first answer, and it is stored once', async () => {
      const rounds = 5;
      for (let round = 0; round < rounds; round++) {
        for (const [url, body] of [
          ['/messages', { message: `retried ${round}` }],
          ['/data', { retried: round }],
        ] as const) {
          const key = `concurrent-${engine}-${url}-${round}`;
          const answers = await Promise.all(
            Array.from({ length: 12 }, () => post(url, body, { ...json, 'idempotency-key': key })),
          );
          const statuses = answers.map((answer) => answer.statusCode);
          assert.deepEqual(
            statuses,
            Array(12).fill(201),
            `${url} round ${round}: ${answers.find((a) => a.statusCode !== 201)?.body}`,
          );
          assert.equal(
            new Set(answers.map((answer) => answer.body)).size,
            1,
            `${url}: the retries got different answers`,
          );
          const copies =
            url === '/messages'
              ? (await t.app.store.listMessages({ limit: 500 })).items.filter((m) => m.message === `retried ${round}`)
              : (await t.app.store.listDocuments({ limit: 500 })).items.filter((d) => d.retried === round);
          assert.deepEqual(
            copies.map((item) => item.id),
            [answers[0]?.json().id],
            `${url} round ${round}: stored ${copies.length} times`,
          );
        }
      }
    });

    test('a lone UTF-16 surrogate in a message, a string or a key is a 400 and stores nothing; a pair is stored verbatim', async () => {
      const counts = async () => (await t.app.store.listMessages({ limit: 500 })).items.length + (await stored());
      const before = await counts();
      for (const [url, raw] of [
        ['/messages', '{"message":"half \\ud800 a pair"}'],
        ['/messages', '{"message":"\\udc00"}'],
        ['/submit', '{"message":"ends high \\ud83d"}'],
        ['/data', '{"text":"x\\udfff"}'],
        ['/data', '{"deep":[{"a":"\\ud800"}]}'],
        ['/data', '{"\\ud800":1}'],
      ] as const) {
        assertClientError(await post(url, raw), 400, /not valid Unicode/);
      }
      assert.equal(await counts(), before, 'a malformed text was stored');
      const rocket = await post('/messages', '{"message":"\\ud83d\\ude80"}');
      assert.equal(rocket.statusCode, 201);
      assert.equal(rocket.json().message, '🚀');
      assert.equal((await t.app.store.listMessages({ limit: 1 })).items[0]?.message, '🚀');
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
    const store: Store = new MemoryStore();
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

test('the service purges expired idempotency keys as they age, not only when it connects (MySQL)', async () => {
  const fixture = await storeFixtures.mysql();
  const app = await buildApp({
    config: loadConfig({ DB_ENGINE: 'mysql', ...UNTHROTTLED }),
    store: fixture.store,
    logger: false,
    sweep: { everyMs: 50, batch: 100 },
  });
  let connection: mysql.Connection | undefined;
  try {
    await waitFor(async () => (await app.inject('/ready')).statusCode === 200, 'readiness');
    connection = await mysql.createConnection({ ...MYSQL, database: fixture.env.MYSQL_DATABASE });
    const sql = connection;
    await sql.query("INSERT INTO idempotency_keys VALUES ('aged', ?, 1, ?)", [
      'f'.repeat(64),
      new Date(Date.now() - 1_000),
    ]);
    const left = async () =>
      ((await sql.query('SELECT COUNT(*) AS n FROM idempotency_keys'))[0] as { n: number }[])[0]?.n;
    await waitFor(async () => Number(await left()) === 0, 'the expired key to be purged', 3_000);
  } finally {
    await connection?.end();
    await app.close();
    await fixture.drop();
  }
});

describe('cross-site posts', () => {
  const t = appForSuite('memory');

  const form = { 'content-type': 'application/x-www-form-urlencoded', host: 'board.example' };
  const submit = (headers: Record<string, string>, text: string) =>
    t.app.inject({ method: 'POST', url: '/submit', headers: { ...form, ...headers }, payload: `new_message=${text}` });
  const listed = async () => (await t.app.store.listMessages({ limit: 500 })).items.map((item) => item.message);

  test("a browser's form post for another site's page is a 403 and stores nothing", async () => {
    for (const [label, headers] of [
      ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' }],
      ['Sec-Fetch-Site: same-site', { 'sec-fetch-site': 'same-site', origin: 'http://other.board.example' }],
      ['a foreign Origin without Sec-Fetch-Site', { origin: 'https://evil.example' }],
      ['Origin: null without Sec-Fetch-Site', { origin: 'null' }],
      ['a foreign port', { origin: 'http://board.example:8080' }],
    ] as const) {
      const response = await submit(headers, 'forged');
      assertClientError(response, 403, /cross-site posts are refused/);
      assert.equal(response.headers.location, undefined, `${label}: redirected as if posted`);
    }
    for (const url of ['/messages', '/data']) {
      const response = await t.app.inject({
        method: 'POST',
        url,
        headers: { ...json, 'sec-fetch-site': 'cross-site' },
        payload: '{"message":"forged"}',
      });
      assertClientError(response, 403, /cross-site/);
    }
    assert.deepEqual(await listed(), [], 'a cross-site post was stored');
  });

  test('the own page, a typed-in request and clients that are not browsers keep posting', async () => {
    for (const [label, headers] of [
      ['the page (Fetch Metadata)', { 'sec-fetch-site': 'same-origin', origin: 'http://board.example' }],
      ['the page (an older browser: Origin only)', { origin: 'http://board.example' }],
      ['a user-initiated request', { 'sec-fetch-site': 'none' }],
      ['curl', {}],
    ] as const) {
      const response = await submit(headers, label);
      assert.equal(response.statusCode, 303, `${label}: ${response.statusCode} ${response.body}`);
    }
    const api = await t.app.inject({ method: 'POST', url: '/messages', headers: json, payload: '{"message":"api"}' });
    assert.equal(api.statusCode, 201);
    assert.equal((await listed()).length, 5);
  });
});

/** Opens a connection, sends `head`, then one byte of `trickle` every `everyMs`; resolves with what came back and when the server closed it. */
function slowClient(port: number, head: string, trickle: string, everyMs: number, giveUpMs: number) {
  return new Promise<{ answer: string; closedAfterMs: number; bytesSent: number }>((resolve) => {
    const started = performance.now();
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    let bytesSent = 0;
    const drip = setInterval(() => {
      if (bytesSent < trickle.length && socket.writable) socket.write(trickle[bytesSent++] as string);
    }, everyMs);
    const giveUp = setTimeout(() => socket.destroy(), giveUpMs);
    socket.setEncoding('utf8').on('data', (chunk) => {
      answer += chunk;
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(drip);
      clearTimeout(giveUp);
      resolve({ answer, closedAfterMs: performance.now() - started, bytesSent });
    });
    socket.write(head);
  });
}

describe('a slow client is let go', () => {
  const timeouts = { headersMs: 400, requestMs: 800, keepAliveMs: 300, idleMs: 2_000, checkEveryMs: 50 };
  let app: TestApp['app'];
  let port: number;
  before(async () => {
    app = await buildApp({ config: loadConfig({ ...UNTHROTTLED }), store: new MemoryStore(), logger: false, timeouts });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  after(() => app.close());

  test('a body trickled a byte at a time is answered 408 and closed at the request deadline', async () => {
    const body = JSON.stringify({ message: 'x'.repeat(200) });
    const head = `POST /messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const { answer, closedAfterMs, bytesSent } = await slowClient(port, head, body, 50, 5_000);
    assert.ok(bytesSent < body.length, 'the client finished its body before any deadline: the test proves nothing');
    assert.match(answer, /^HTTP\/1\.1 408 /, `the slow body was not answered 408: ${JSON.stringify(answer)}`);
    assert.ok(closedAfterMs < timeouts.requestMs + 500, `the connection was held ${Math.round(closedAfterMs)} ms`);
    assert.equal((await app.store.listMessages({ limit: 10 })).items.length, 0, 'the trickled message was stored');
  });

  test('headers trickled a byte at a time are answered 408 and closed at the header deadline', async () => {
    const headers = `X-Slow: ${'y'.repeat(200)}\r\n\r\n`;
    const { answer, closedAfterMs } = await slowClient(port, 'GET /health HTTP/1.1\r\nHost: a\r\n', headers, 50, 5_000);
    assert.match(answer, /^HTTP\/1\.1 408 /, `the slow headers were not answered 408: ${JSON.stringify(answer)}`);
    assert.ok(closedAfterMs < timeouts.headersMs + 500, `the connection was held ${Math.round(closedAfterMs)} ms`);
  });

  test("the service's own timeouts: a client has seconds for its request, and idle connections outlive the load balancer's", async () => {
    const real = await buildApp({ config: loadConfig({}), store: new MemoryStore(), logger: false });
    try {
      const { server } = real;
      assert.equal(server.headersTimeout, CONNECTION_TIMEOUTS.headersMs);
      assert.equal(server.requestTimeout, CONNECTION_TIMEOUTS.requestMs);
      assert.ok(server.headersTimeout > 0 && server.headersTimeout <= server.requestTimeout);
      assert.ok(server.requestTimeout > 0 && server.requestTimeout <= 30_000, 'a request may take forever');
      assert.ok(
        server.keepAliveTimeout > LOAD_BALANCER_IDLE_MS,
        "keep-alive ends before the load balancer's idle timeout",
      );
      assert.ok(server.timeout >= server.keepAliveTimeout, 'idle keep-alive connections are cut by the socket timeout');
    } finally {
      await real.close();
    }
  });
});

after(stopFerretdb);
