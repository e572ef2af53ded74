import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { stripVTControlCharacters } from 'node:util';
import { buildApp, READ_LOG_SAMPLE } from '../service/src/app';
import { loadConfig } from '../service/src/config';
import { LogCapture } from './support/log-capture';
import { freePort } from './support/ports';
import { REPO, ServerProcess, UNTHROTTLED } from './support/server-process';

test('in a terminal, `npm start` prints readable lines: the time, the level, the message', async () => {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const start = JSON.parse(readFileSync(join(REPO, 'service', 'package.json'), 'utf8')).scripts.start as string;
  // util-linux's script(1) gives the service a pseudo-terminal for stdout, as a person's shell does.
  const terminal = spawn('script', ['--quiet', '--flush', '--return', '--command', `exec ${start}`, '/dev/null'], {
    cwd: join(REPO, 'service'),
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), METRICS_PORT: String(metricsPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let screen = '';
  terminal.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    screen += chunk;
  });
  const exited = new Promise((resolve) => terminal.once('exit', resolve));
  try {
    const deadline = Date.now() + 20_000;
    while (!screen.includes(`listening at http://127.0.0.1:${metricsPort}`)) {
      assert.ok(Date.now() < deadline, `the service did not start in a terminal:\n${screen}`);
      assert.equal(terminal.exitCode, null, `the service exited:\n${screen}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    terminal.kill('SIGTERM');
    await exited;
  }
  const lines = stripVTControlCharacters(screen).split(/\r?\n/).filter(Boolean);
  const listening = new RegExp(
    `^\\[\\d{2}:\\d{2}:\\d{2}\\.\\d{3}\\] INFO: Server listening at http://127\\.0\\.0\\.1:${port}$`,
  );
  assert.ok(
    lines.some((line) => listening.test(line)),
    `no readable "listening" line in:\n${lines.join('\n')}`,
  );
  for (const line of lines) {
    assert.match(line, /^\[\d{2}:\d{2}:\d{2}\.\d{3}\] (INFO|WARN): \S/, `not a readable line: ${line}`);
  }
});

test('through a pipe, as in a pod, every line is JSON', async () => {
  const server = await ServerProcess.start({ DB_ENGINE: 'memory', LOG_LEVEL: 'info' });
  try {
    await server.listening();
    await fetch(`${server.url}/messages`);
    await server.waitForLog('request completed');
  } finally {
    server.kill();
    await server.exited;
  }
  assert.ok(server.stdout.length >= 4);
  for (const line of server.stdout) {
    const entry = JSON.parse(line);
    assert.equal(typeof entry.time, 'number', `not a pino JSON line: ${line}`);
  }
});

test(`successful reads are logged one in ${READ_LOG_SAMPLE} and say so; writes and errors each time; every read at debug`, async () => {
  const completed = async (level: string, requests: { method: 'GET' | 'POST'; url: string }[]) => {
    const logs = new LogCapture();
    const app = await buildApp({ config: loadConfig({ ...UNTHROTTLED }), logger: { level, stream: logs } });
    try {
      for (const { method, url } of requests) {
        await app.inject({
          method,
          url,
          headers: { 'content-type': 'application/json' },
          payload: method === 'POST' ? { message: 'logged' } : undefined,
        });
      }
    } finally {
      await app.close();
    }
    return logs.messages('request completed');
  };
  const reads = Array.from({ length: 3 * READ_LOG_SAMPLE }, () => ({ method: 'GET' as const, url: '/messages' }));
  const writes = Array.from({ length: 4 }, () => ({ method: 'POST' as const, url: '/messages' }));
  const missing = Array.from({ length: 2 }, () => ({ method: 'GET' as const, url: '/no-such-page' }));

  const info = await completed('info', [...reads, ...writes, ...missing]);
  const sampledReads = info.filter((line) => line.method === 'GET' && line.statusCode === 200);
  assert.equal(sampledReads.length, 3, 'one line for each ten reads');
  for (const line of sampledReads) assert.equal(line.sampled, READ_LOG_SAMPLE);
  assert.equal(info.filter((line) => line.method === 'POST' && line.statusCode === 201).length, 4, 'every write');
  assert.equal(info.filter((line) => line.statusCode === 404).length, 2, 'every client error');
  assert.ok(
    info.every((line) =>
      line.method !== 'POST' && line.statusCode !== 404 ? 'sampled' in line : !('sampled' in line),
    ),
  );

  const debug = await completed('debug', reads);
  assert.equal(debug.length, reads.length, 'at debug every read is logged');
  assert.ok(debug.every((line) => !('sampled' in line)));
});
