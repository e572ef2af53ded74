import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import mysql from 'mysql2/promise';
import { buildApp } from '../service/src/app';
import { loadConfig } from '../service/src/config';
import { MongoStore } from '../service/src/stores/mongodb';
import { MysqlStore } from '../service/src/stores/mysql';
import type { Store } from '../service/src/stores/store';
import { waitFor } from './support/app';
import { FerretdbInstance, mongoUnavailable } from './support/ferretdb';
import type { LogCapture } from './support/log-capture';
import { UNTHROTTLED } from './support/server-process';
import { StallingProxy } from './support/stalling-proxy';
import { dropMysqlDatabase, MYSQL } from './support/stores';

/** The deadlines: every request, /health and /ready. */
const REQUEST_MS = 5_000;
const HEALTH_MS = 100;
const READY_MS = 2_000;

async function timed(work: () => Promise<LightMyRequestResponse>) {
  const started = performance.now();
  const response = await work();
  return { response, ms: performance.now() - started };
}

async function appOn(store: Store, logs?: LogCapture): Promise<FastifyInstance> {
  const app = await buildApp({
    config: loadConfig({ DB_ENGINE: store.engine, ...UNTHROTTLED }),
    store,
    logger: logs ? { level: 'info', stream: logs } : false,
    retry: { initialDelayMs: 50, maxDelayMs: 200 },
  });
  await waitFor(async () => (await app.inject('/ready')).statusCode === 200, 'readiness');
  return app;
}

const keyOf = (label: string, i: number) => `stuck-${label.replace(/\W+/g, '-')}-${i}`;

const post = (app: FastifyInstance, url: string, payload: unknown, key?: string) =>
  app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
    payload: JSON.stringify(payload),
  });

/**
 * Sends a burst of requests wider than the pool while the database is stuck and checks every deadline:
 * each answer is a 503 with Retry-After within 5 s; /health and /ready answer in theirs meanwhile.
 */
async function assertDeadlines(app: FastifyInstance, diagnostic: (text: string) => void, label: string) {
  const requests = Array.from({ length: 24 }, (_, i) =>
    timed(
      () =>
        [
          () => post(app, '/messages', { message: `stuck ${i}` }, keyOf(label, i)),
          () => app.inject('/messages'),
          () => post(app, '/data', { n: i }),
          () => app.inject('/'),
        ][i % 4]?.() as Promise<LightMyRequestResponse>,
    ),
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  const health = await timed(() => app.inject('/health'));
  const ready = await timed(() => app.inject('/ready'));
  const answers = await Promise.all(requests);
  const worst = Math.max(...answers.map((answer) => answer.ms));
  diagnostic(
    `${label}: worst request ${worst.toFixed(0)} ms, /health ${health.ms.toFixed(1)} ms, /ready ${ready.ms.toFixed(0)} ms (${ready.response.statusCode})`,
  );
  for (const { response, ms } of answers) {
    assert.equal(response.statusCode, 503, `expected 503 from a stuck database, got ${response.statusCode}`);
    assert.ok(response.headers['retry-after'], 'a 503 without Retry-After');
    assert.ok(ms < REQUEST_MS, `a request took ${ms.toFixed(0)} ms with the database stuck`);
  }
  assert.equal(health.response.statusCode, 200);
  assert.ok(health.ms < HEALTH_MS, `/health took ${health.ms.toFixed(0)} ms`);
  assert.ok(ready.ms < READY_MS, `/ready took ${ready.ms.toFixed(0)} ms`);
  return answers;
}

describe('MySQL stuck, not stopped', () => {
  const database = `two_tier_deadlines_${process.pid}`;
  let proxy: StallingProxy;
  let store: MysqlStore;
  let app: FastifyInstance;

  before(async () => {
    proxy = await StallingProxy.start(MYSQL.port);
    store = new MysqlStore({ ...MYSQL, port: proxy.port, database });
    app = await appOn(store);
  });

  after(async () => {
    proxy.resume();
    await app.close();
    await proxy.close();
    await dropMysqlDatabase(database);
  });

  test('tables locked: every request answers 503 within its deadline, nothing answered 503 is stored, then it recovers', async (t) => {
    const locker = await mysql.createConnection({ ...MYSQL, database });
    await locker.query('LOCK TABLES messages WRITE, documents WRITE, idempotency_keys WRITE');
    try {
      const answers = await assertDeadlines(app, (text) => t.diagnostic(text), 'locked tables');
      assert.ok(
        answers.some(({ response }) => /in time/.test(response.json?.().message ?? response.body)),
        'no 503 said the database did not answer in time',
      );
    } finally {
      await locker.query('UNLOCK TABLES');
      await locker.end();
    }
    await waitFor(async () => (await app.inject('/ready')).statusCode === 200, 'readiness after the lock');
    const stored = (await app.inject('/messages?limit=500')).json();
    assert.deepEqual(stored, [], 'a write answered 503 was stored all the same');
    const retried = await post(app, '/messages', { message: 'stuck 0' }, keyOf('locked tables', 0));
    assert.equal(retried.statusCode, 201, 'the retry with the same Idempotency-Key failed after recovery');
  });

  test('half-open connections: deadlines hold, timed-out connections are destroyed, and it recovers by itself', async (t) => {
    assert.ok(store.stats().open > 0, 'the pool had no connection to lose');
    proxy.stall();
    try {
      await assertDeadlines(app, (text) => t.diagnostic(text), 'half-open');
      await waitFor(() => store.stats().open === 0, 'the pool to destroy its timed-out connections', 10_000);
    } finally {
      proxy.resume();
    }
    await waitFor(async () => (await app.inject('/ready')).statusCode === 200, 'readiness after the stall');
    const created = await post(app, '/messages', { message: 'after the stall' });
    assert.equal(created.statusCode, 201);
    assert.equal((await app.inject('/messages?limit=1')).json()[0].message, 'after the stall');
  });
});

const noMongo = mongoUnavailable();

describe('MongoDB stuck, not stopped', { skip: noMongo }, () => {
  let ferretdb: FerretdbInstance | undefined;
  let proxy: StallingProxy;
  let app: FastifyInstance;
  let url: string;

  before(async () => {
    url = process.env.MONGODB_URL ?? '';
    if (!url) {
      ferretdb = await FerretdbInstance.create();
      await ferretdb.start();
      url = ferretdb.url;
    }
    const target = new URL(url);
    proxy = await StallingProxy.start(Number(target.port || 27017));
    target.host = `127.0.0.1:${proxy.port}`;
    target.searchParams.set('directConnection', 'true');
    app = await appOn(new MongoStore({ url: target.toString(), database: `two_tier_deadlines_${process.pid}` }));
  });

  after(async () => {
    proxy.resume();
    await app.close();
    await proxy.close();
    await ferretdb?.destroy();
  });

  test('a stalled server: every request answers 503 within its deadline, and it recovers by itself', async (t) => {
    proxy.stall();
    try {
      await assertDeadlines(app, (text) => t.diagnostic(text), 'MongoDB stalled');
    } finally {
      proxy.resume();
    }
    await waitFor(async () => (await app.inject('/ready')).statusCode === 200, 'readiness after the stall', 15_000);
    assert.equal((await post(app, '/messages', { message: 'after the stall' })).statusCode, 201);
  });
});
