import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { stripVTControlCharacters } from 'node:util';
import { freePort } from './support/ports';
import { REPO, ServerProcess } from './support/server-process';

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
