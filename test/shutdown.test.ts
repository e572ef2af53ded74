import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { buildApp } from '../service/src/app';
import { loadConfig } from '../service/src/config';
import { MemoryStore } from '../service/src/stores/memory';
import { waitFor } from './support/app';
import { freePort } from './support/ports';
import { REPO, ServerProcess } from './support/server-process';

/** A memory store whose writes wait until the test lets them through, to hold requests in flight. */
class HeldStore extends MemoryStore {
  private release!: () => void;
  readonly released = new Promise<void>((resolve) => {
    this.release = resolve;
  });
  closed = false;
  writesStarted = 0;

  override async addMessage(message: string, createdAt: Date) {
    this.writesStarted++;
    await this.released;
    return super.addMessage(message, createdAt);
  }

  letThrough(): void {
    this.release();
  }

  override async close(): Promise<void> {
    this.closed = true;
  }
}

test('closing drains: it marks the app draining, lets in-flight requests finish, then closes the store', async () => {
  const store = new HeldStore();
  const app = await buildApp({ config: loadConfig({}), store, logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  const inFlight = fetch(`http://127.0.0.1:${port}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message: 'in flight' }),
  });
  await waitFor(() => store.writesStarted === 1, 'the request to reach the store');

  const closing = app.close();
  await waitFor(() => app.readiness.draining, 'close() to mark the app as draining');
  assert.equal(store.closed, false, 'the store closed while a request was still in flight');

  store.letThrough();
  const response = await inFlight;
  assert.equal(response.status, 201, 'the in-flight request did not finish');
  assert.equal(response.headers.get('connection'), 'close', 'a response sent while draining kept its connection');
  const started = Date.now();
  await closing;
  assert.ok(Date.now() - started < 2_000, `close() took ${Date.now() - started} ms after the last response`);
  assert.equal(store.closed, true, 'the store was not closed');
});

function rawRequest(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

test('SIGTERM: /ready turns 503, then new connections are refused, the request in flight is answered, exit 0', async () => {
  const server = await ServerProcess.start({ DB_ENGINE: 'memory' });
  try {
    await server.listening();
    const body = JSON.stringify({ message: 'sent across a shutdown' });
    const socket = await rawRequest(server.port);
    let answer = '';
    socket.setEncoding('utf8').on('data', (chunk) => {
      answer += chunk;
    });
    // Headers and half the body now: the request is in flight when the signal arrives.
    socket.write(
      `POST /messages HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    server.child.kill('SIGTERM');
    await server.waitForLog('draining: refusing new connections, finishing requests in flight');
    const duringDrain = await fetch(`${server.url}/ready`);
    assert.equal(duringDrain.status, 503, '/ready did not turn 503 on SIGTERM');
    assert.equal(duringDrain.headers.get('connection'), 'close', 'responses while draining keep their connection');
    assert.deepEqual(await duringDrain.json(), { status: 'draining' });
    assert.equal((await fetch(`${server.url}/health`)).status, 200, '/health failed while draining');
    await new Promise((resolve) => setTimeout(resolve, 1_300));

    await assert.rejects(
      rawRequest(server.port),
      { code: 'ECONNREFUSED' },
      'a new connection was accepted after the drain',
    );
    socket.end(body.slice(10));
    const started = Date.now();
    assert.equal(await server.exited, 0);
    assert.ok(Date.now() - started < 10_000, 'the process did not exit within the drain period');
    assert.match(answer, /^HTTP\/1\.1 201 /, `the in-flight request was not answered 201: ${answer}`);
    assert.match(answer, /"message":"sent across a shutdown"/);
  } finally {
    server.kill();
  }
});

test('npm start: Ctrl-C (SIGINT to the whole process group, as a terminal sends it) drains once and exits 0', async () => {
  const port = await freePort();
  const child = spawn('npm', ['start'], {
    cwd: REPO,
    detached: true,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), DB_ENGINE: 'memory' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  try {
    await waitFor(() => output.includes(`Server listening at http://127.0.0.1:${port}`), 'npm start to listen', 30_000);
    process.kill(-(child.pid as number), 'SIGINT');
    // npm reports a Ctrl-C as a shell does (130); the service's own clean exit is its "stopped" line.
    assert.ok(
      [0, 130, 'SIGINT'].includes((await exited) as number | string),
      `npm start ended with ${await exited}:\n${output}`,
    );
  } finally {
    if (child.exitCode === null && child.signalCode === null) process.kill(-(child.pid as number), 'SIGKILL');
  }
  const logs = output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string });
  assert.equal(logs.filter((line) => line.msg.startsWith('draining')).length, 1, 'the service drained more than once');
  assert.equal(logs.filter((line) => line.msg === 'stopped').length, 1, 'the service did not finish its drain');
  assert.deepEqual(
    logs.filter((line) => line.level >= 50).map((line) => line.msg),
    [],
    'Ctrl-C logged an error',
  );
});
