import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../service/src/app';
import { loadConfig } from '../service/src/config';
import { MysqlStore } from '../service/src/stores/mysql';
import { clusterReadiness, scrape, waitFor } from './support/app';
import { LogCapture } from './support/log-capture';
import { MariadbInstance } from './support/mariadb-instance';

let database: MariadbInstance;
let app: FastifyInstance;
const logs = new LogCapture();

const postTo = (target: FastifyInstance, message: string) =>
  target.inject({
    method: 'POST',
    url: '/messages',
    headers: { 'content-type': 'application/json' },
    payload: { message },
  });
const postMessage = (message: string) => postTo(app, message);

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await work();
  return { result, ms: performance.now() - started };
}

before(async () => {
  database = await MariadbInstance.create();
  // The service starts first, as Compose and Kubernetes start both tiers together.
  app = await buildApp({
    config: loadConfig({ DB_ENGINE: 'mysql' }),
    store: new MysqlStore({ ...database.connection, database: 'app' }),
    logger: { level: 'info', stream: logs },
    retry: { initialDelayMs: 50, maxDelayMs: 400 },
  });
});

after(async () => {
  await app.close();
  await database.destroy();
});

test('before its database exists the service is live, not ready, refuses writes with 503, and retries with backoff', async () => {
  assert.equal((await app.inject('/health')).statusCode, 200);
  const ready = await app.inject('/ready');
  assert.equal(ready.statusCode, 503);
  assert.equal(ready.json().status, 'connecting to the database');
  const { result, ms } = await timed(() => postMessage('too early'));
  assert.equal(result.statusCode, 503);
  assert.deepEqual(result.json(), {
    statusCode: 503,
    error: 'Service Unavailable',
    message: 'the database is unavailable; try again shortly',
  });
  assert.ok(ms < 1_000, `a write before the database came up took ${ms} ms`);

  await waitFor(() => logs.messages('database not reachable yet; retrying').length >= 3, 'three retries');
  const delays = logs.messages('database not reachable yet; retrying').map((line) => line.retryInMs as number);
  assert.deepEqual(delays.slice(0, 3), [50, 100, 200], 'the backoff does not double');
  assert.deepEqual(
    logs
      .messages('database not reachable yet; retrying')
      .map((line) => line.attempt)
      .slice(0, 3),
    [1, 2, 3],
  );
});

test('the service becomes ready by itself once the database starts, and the backoff stays bounded', async () => {
  await new Promise((resolve) => setTimeout(resolve, 1_200));
  const delays = logs.messages('database not reachable yet; retrying').map((line) => line.retryInMs as number);
  assert.ok(Math.max(...delays) <= 400, `a retry waited ${Math.max(...delays)} ms, over the 400 ms bound`);
  await database.start();
  await waitFor(async () => (await app.inject('/ready')).statusCode === 200, 'readiness after the database started');
  assert.equal(logs.messages('database connected').length, 1);
  assert.equal((await postMessage('after start')).statusCode, 201);
});

test('a database killed under the service: fast 503s, /ready 503, no crash; recovery without a restart', async () => {
  const before = await postMessage('before the crash');
  assert.equal(before.statusCode, 201);
  await database.kill();

  for (const request of [() => postMessage('during the outage'), () => app.inject('/messages')]) {
    const { result, ms } = await timed(request);
    assert.equal(result.statusCode, 503, `expected 503 while the database is down, got ${result.statusCode}`);
    assert.ok(ms < 3_000, `a request during the outage took ${ms} ms`);
  }
  const ready = await app.inject('/ready');
  assert.equal(ready.statusCode, 503);
  assert.equal(ready.json().status, 'database unavailable');
  assert.equal((await app.inject('/health')).statusCode, 200, 'liveness must not depend on the database');
  const page = await app.inject('/');
  assert.equal(page.statusCode, 503);
  assert.match(page.body, /the database is unavailable/i);

  await database.start();
  await waitFor(async () => (await app.inject('/ready')).statusCode === 200, 'readiness after the restart');
  const after = await postMessage('after the restart');
  assert.equal(after.statusCode, 201);
  const messages = (await app.inject('/messages')).json().map((m: { message: string }) => m.message);
  assert.deepEqual(messages.slice(0, 2), ['after the restart', 'before the crash']);
  assert.ok(!messages.includes('during the outage'), 'a write answered 503 was stored');

  const metrics = await scrape(app);
  assert.match(metrics, /store_operation_errors_total\{operation="addMessage"\} [1-9]/);
});

test('credentials refused: /ready and the page say so, one warn line per request, the cause logged once, no stacks', async () => {
  const refusedLogs = new LogCapture();
  const refused = await buildApp({
    config: loadConfig({ DB_ENGINE: 'mysql' }),
    store: new MysqlStore({ ...database.connection, user: 'app', password: 'not-the-password', database: 'app' }),
    logger: { level: 'info', stream: refusedLogs },
    retry: { initialDelayMs: 50, maxDelayMs: 400 },
  });
  try {
    const reason = "the database refused the service's credentials";
    await waitFor(() => refusedLogs.messages('database failing').length > 0, 'the first refusal');
    const ready = await refused.inject('/ready');
    assert.equal(ready.statusCode, 503);
    assert.deepEqual(
      ready.json(),
      { status: 'connecting to the database' },
      'the public /ready tells more than the status',
    );
    const detail = await clusterReadiness(refused);
    assert.equal(detail.statusCode, 503);
    assert.equal(detail.json().reason, reason);
    assert.equal(detail.json().user, 'app', 'the metrics port does not say which user was refused');
    assert.equal(refusedLogs.messages('database failing')[0]?.user, 'app');
    // What to do, where operators look: the password changed on one side only, or a first boot cut short.
    for (const action of [detail.json().action, refusedLogs.messages('database failing')[0]?.action as string]) {
      assert.match(action, /change it in the database first, then pulumi config set --secret dbPassword/);
      assert.match(action, /the database pod's log says whether its first boot was interrupted/);
    }
    const page = await refused.inject('/');
    assert.equal(page.statusCode, 503);
    assert.match(page.body, /The database refused the service(&#39;|')s credentials\./);
    assert.doesNotMatch(page.body, /user app/, "the public page names the database's user");
    assert.doesNotMatch(page.body, /try again shortly/);
    const requests = 5;
    for (let i = 0; i < requests; i++) assert.equal((await postTo(refused, `refused ${i}`)).statusCode, 503);
    const lines = refusedLogs.lines.filter((line) => line.url === '/messages');
    assert.equal(lines.length, requests, 'not one line per request');
    assert.ok(
      lines.every((line) => line.level === 40),
      'a refused request was not logged at warn',
    );
    assert.equal(refusedLogs.messages('database failing').length, 1, 'the cause was logged more than once');
    assert.equal(refusedLogs.messages('database failing')[0]?.reason, reason);
    assert.ok(!refusedLogs.lines.some((line) => JSON.stringify(line).includes('    at ')), 'a stack trace was logged');
    assert.ok(!JSON.stringify(refusedLogs.lines).includes('not-the-password'), 'the password was logged');
  } finally {
    await refused.close();
  }
});
