import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { test } from 'node:test';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { WEB_NODE_OPTIONS } from '../infra/web-tier';
import { waitFor } from './support/app';
import { MariadbInstance } from './support/mariadb-instance';
import { ServerProcess } from './support/server-process';
import { dropMysqlDatabase, MYSQL, mysqlEnv } from './support/stores';

/** One HTTP request with a deadline; resolves to the status, or to the error code of a failed connection. */
function send(url: string, options: { method?: string; body?: string; agent?: Agent; timeoutMs?: number } = {}) {
  return new Promise<{ status?: number; error?: string; body: string; closing?: boolean }>((resolve) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        agent: options.agent,
        headers: options.body ? { 'content-type': 'application/json' } : {},
        timeout: options.timeoutMs ?? 5_000,
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8').on('data', (chunk) => {
          body += chunk;
        });
        response.on('end', () =>
          resolve({ status: response.statusCode, body, closing: response.headers.connection === 'close' }),
        );
        response.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message, body }));
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'TIMEOUT' })));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message, body: '' }));
    req.end(options.body);
  });
}

const rssMiB = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

test('the database killed and restarted under a writer: every message answered 201 is stored, the rest got 503', async (t) => {
  const database = await MariadbInstance.create();
  await database.start();
  const server = await ServerProcess.start({
    DB_ENGINE: 'mysql',
    MYSQL_HOST: '127.0.0.1',
    MYSQL_PORT: String(database.port),
    MYSQL_USER: 'root',
    MYSQL_DATABASE: 'app',
  });
  try {
    await server.waitForLog('database connected');
    const acknowledged: string[] = [];
    const outcomes = new Map<string, number>();
    let writing = true;
    const writers = Array.from({ length: 4 }, async (_, writer) => {
      for (let i = 0; writing; i++) {
        const message = `writer ${writer} message ${i}`;
        const response = await send(`${server.url}/messages`, { method: 'POST', body: JSON.stringify({ message }) });
        const outcome = response.status ? String(response.status) : `error ${response.error}`;
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        if (response.status === 201) acknowledged.push(message);
        if (response.status !== 201) await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await database.kill();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await database.start();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    writing = false;
    await Promise.all(writers);
    t.diagnostic(`writes: ${JSON.stringify(Object.fromEntries(outcomes))}`);

    assert.deepEqual(
      [...outcomes.keys()].filter((o) => o !== '201' && o !== '503'),
      [],
      'a write hung or failed otherwise',
    );
    assert.ok((outcomes.get('503') ?? 0) > 0, 'the outage was not noticed');
    const connection = await mysql.createConnection({ ...database.connection, database: 'app' });
    const [rows] = await connection.query<RowDataPacket[]>('SELECT message FROM messages');
    await connection.end();
    const stored = new Set(rows.map((row) => row.message as string));
    const lost = acknowledged.filter((message) => !stored.has(message));
    assert.deepEqual(lost, [], 'messages answered 201 are missing from the database');
    const after = await send(`${server.url}/messages`, { method: 'POST', body: '{"message":"after the restart"}' });
    assert.equal(after.status, 201, 'the service did not recover without a restart');
  } finally {
    server.kill();
    await database.destroy();
  }
});

test('SIGTERM during a steady load: no request fails with a connection error, the process exits 0', async (t) => {
  const server = await ServerProcess.start({ DB_ENGINE: 'memory' });
  await server.listening();
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const outcomes = new Map<string, number>();
  let loading = true;
  let terminated = false;
  let answeredAfterSignal = 0;
  const clients = Array.from({ length: 16 }, async () => {
    while (loading) {
      const response = await send(`${server.url}/messages`, { agent });
      const outcome = response.status ? String(response.status) : `error ${response.error}`;
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      if (terminated && response.status) answeredAfterSignal++;
      // Like a load balancer that has seen the target drain: after `Connection: close`, send it nothing more.
      if (response.closing || response.error) return;
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  server.child.kill('SIGTERM');
  terminated = true;
  const code = await server.exited;
  loading = false;
  await Promise.all(clients);
  agent.destroy();
  t.diagnostic(
    `requests: ${JSON.stringify(Object.fromEntries(outcomes))}; answered after SIGTERM: ${answeredAfterSignal}`,
  );
  assert.equal(code, 0);
  const failures = [...outcomes.keys()].filter((o) => o.startsWith('error'));
  assert.deepEqual(failures, [], 'a request failed with a connection error');
  assert.ok(answeredAfterSignal >= 16, 'requests sent during the drain were not answered');
  assert.ok((outcomes.get('200') ?? 0) > 100, 'the load was not steady');
});

test('slow clients and a flood of 1000 concurrent requests: /health stays responsive, memory stays bounded', async (t) => {
  const server = await ServerProcess.start({ DB_ENGINE: 'memory', LOG_LEVEL: 'warn' });
  try {
    await waitFor(async () => (await send(`${server.url}/health`)).status === 200, 'the server to answer');
    const pid = server.child.pid as number;
    // Fifty clients trickle a request a byte at a time.
    const slow = Array.from({ length: 50 }, () => connect(server.port, '127.0.0.1'));
    const payload =
      'POST /messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{"message":"slow!"}';
    let position = 0;
    const trickle = setInterval(() => {
      for (const socket of slow) if (!socket.destroyed) socket.write(payload[position % payload.length] as string);
      position++;
    }, 50);
    for (const socket of slow) socket.on('error', () => {});

    const healthTimes: number[] = [];
    const rssBefore = rssMiB(pid);
    const rssAfterFlood: number[] = [];
    for (let round = 0; round < 3; round++) {
      const flood = await Promise.all(
        Array.from({ length: 1_000 }, (_, i) =>
          send(`${server.url}/messages`, {
            method: 'POST',
            body: JSON.stringify({ message: `flood ${round}-${i}` }),
            timeoutMs: 20_000,
          }),
        ),
      );
      const statuses = new Map<string, number>();
      for (const response of flood) {
        const key = response.status ? String(response.status) : `error ${response.error}`;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
      }
      assert.deepEqual(Object.fromEntries(statuses), { 201: 1_000 }, `flood ${round} was not served`);
      const started = performance.now();
      assert.equal((await send(`${server.url}/health`)).status, 200);
      healthTimes.push(performance.now() - started);
      rssAfterFlood.push(rssMiB(pid));
    }
    clearInterval(trickle);
    for (const socket of slow) socket.destroy();
    t.diagnostic(
      `/health during slow clients after each flood: ${healthTimes.map((ms) => ms.toFixed(1)).join(', ')} ms; RSS ${rssBefore.toFixed(0)} MiB before, ${rssAfterFlood.map((v) => v.toFixed(0)).join(', ')} MiB after each flood`,
    );
    assert.ok(Math.max(...healthTimes) < 500, '/health was slow while clients trickled');
    const [first, , third] = rssAfterFlood as [number, number, number];
    assert.ok(
      third - first < 40,
      `memory kept growing: ${first.toFixed(0)} → ${third.toFixed(0)} MiB over two more floods`,
    );
  } finally {
    server.kill();
  }
});

test('six concurrent largest pages of 60 KB documents: answered in byte-bounded pages, RSS stays under 256 MiB', async (t) => {
  const database = `two_tier_big_pages_${process.pid}`;
  const server = await ServerProcess.start({
    ...mysqlEnv(database),
    LOG_LEVEL: 'warn',
    // The Node.js settings the web pods are given for their 256 MiB limit.
    NODE_OPTIONS: WEB_NODE_OPTIONS,
  });
  try {
    await waitFor(async () => (await send(`${server.url}/ready`)).status === 200, 'readiness', 20_000);
    const connection = await mysql.createConnection({ ...MYSQL, database });
    const body = JSON.stringify({ blob: 'x'.repeat(60_000) });
    for (let batch = 0; batch < 10; batch++) {
      const rows = Array.from({ length: 60 }, () => [body, new Date()]);
      await connection.query('INSERT INTO documents (body, created_at) VALUES ?', [rows]);
    }
    await connection.end();
    const pid = server.child.pid as number;
    let peak = rssMiB(pid);
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMiB(pid));
    }, 10);
    const pages = await Promise.all(
      Array.from({ length: 6 }, () =>
        fetch(`${server.url}/data?limit=500`).then(async (r) => ({ r, text: await r.text() })),
      ),
    );
    clearInterval(sampler);
    peak = Math.max(peak, rssMiB(pid));
    const sizes = pages.map(({ text }) => text.length);
    t.diagnostic(
      `six GET /data?limit=500 over 600 documents of 60 KB: pages of ${sizes.map((n) => (n / 2 ** 20).toFixed(2)).join(', ')} MiB; peak RSS ${peak.toFixed(0)} MiB`,
    );
    for (const { r, text } of pages) {
      assert.equal(r.status, 200);
      assert.ok(text.length <= 1.1 * 2 ** 20, `a page of ${text.length} bytes is over the byte bound`);
      assert.match(r.headers.get('link') ?? '', /rel="next"/, 'a page cut by size does not link to the rest');
      assert.ok(JSON.parse(text).length < 500, 'the page was not cut by size');
    }
    assert.ok(peak < 256, `RSS reached ${peak.toFixed(0)} MiB`);
  } finally {
    server.kill();
    await dropMysqlDatabase(database);
  }
});
