import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ServerProcess } from './support/server-process';

test('GET /metrics answers on METRICS_PORT only: the public port, which the load balancer forwards, has no such path', async () => {
  const server = await ServerProcess.start({ DB_ENGINE: 'memory', LOG_LEVEL: 'info' });
  try {
    await server.listening();
    assert.equal((await fetch(`${server.url}/messages`)).status, 200);
    const hidden = await fetch(`${server.url}/metrics`);
    assert.equal(hidden.status, 404, 'the public port serves the metrics');
    const scrape = await fetch(`${server.metricsUrl}/metrics`);
    assert.equal(scrape.status, 200);
    assert.match(scrape.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(await scrape.text(), /http_requests_total\{method="GET",route="\/messages",status_code="200"\} 1/);
    assert.equal((await fetch(`${server.metricsUrl}/messages`)).status, 404, 'the metrics port serves the API');
    assert.deepEqual(await (await fetch(`${server.url}/ready`)).json(), { status: 'ready' });
    const detail = await fetch(`${server.metricsUrl}/ready`);
    assert.equal(detail.status, 200);
    assert.deepEqual(await detail.json(), { status: 'ready', engine: 'memory' }, 'the metrics port hides the detail');
    const announced = server.logs.find((line) => line.msg === `Server listening at ${server.metricsUrl}`);
    assert.equal(announced?.listener, 'metrics', 'the log does not say which listener is the metrics one');
  } finally {
    server.kill();
    await server.exited;
  }
});

test('METRICS_PORT taken: the process stops with one line naming the port', async () => {
  const first = await ServerProcess.start({ DB_ENGINE: 'memory' });
  try {
    await first.listening();
    const second = await ServerProcess.start({ DB_ENGINE: 'memory', METRICS_PORT: String(first.metricsPort) });
    assert.equal(await second.exited, 1);
    assert.deepEqual(second.stderr, [
      `failed to start: listen EADDRINUSE: address already in use 127.0.0.1:${first.metricsPort}`,
    ]);
  } finally {
    first.kill();
    await first.exited;
  }
});
