import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import { ENGINES } from '../infra/database/engines';
import { FerretdbInstance, mongoUnavailable } from './support/ferretdb';
import { MariadbInstance } from './support/mariadb-instance';

/**
 * The MySQL pod's probe command, run as the kubelet runs it, against a server of the test's own. The
 * mysqladmin here is MariaDB's; MySQL's has the same rule (client/mysqladmin.cc): a server that
 * refuses the login still answered, so `ping` exits 0; only a server that does not answer is a failure.
 */
let database: MariadbInstance;

function probe(port: number, engine: 'mysql' | 'mongodb' = 'mysql'): Promise<{ code: number; stderr: string }> {
  const [file, ...args] = ENGINES[engine].probe(port).exec.command as [string, ...string[]];
  return new Promise((resolve) => {
    // The kubelet runs exec probes in the container's environment; the pod's address is loopback here.
    execFile(file, args, { timeout: 15_000, env: { ...process.env, POD_IP: '127.0.0.1' } }, (error, _stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }),
    );
  });
}

before(async () => {
  database = await MariadbInstance.create();
  await database.start();
});

after(async () => {
  await database?.destroy();
});

test('mysql probe: the server answering is enough; the README password change (ALTER USER first) cannot fail it', async () => {
  const root = await mysql.createConnection(database.connection);
  try {
    await root.query("CREATE USER 'app'@'%' IDENTIFIED BY 'the-first-password'");
    const before = await probe(database.port);
    assert.equal(before.code, 0, before.stderr);
    assert.match(before.stderr, /Access denied/, 'the probe logged in: it depends on a credential after all');
    await root.query("ALTER USER 'app'@'%' IDENTIFIED BY 'the-second-password'");
    const after = await probe(database.port);
    assert.equal(after.code, 0, `the probe failed once the password changed in the database: ${after.stderr}`);
  } finally {
    await root.end();
  }
});

test('mysql probe: fails while the server is down and passes again once it is back', async () => {
  await database.kill();
  const down = await probe(database.port);
  assert.notEqual(down.code, 0, 'the probe passed with no server');
  await database.start();
  const back = await probe(database.port);
  assert.equal(back.code, 0, back.stderr);
});

test('mongodb probe: a ping needs an answer, so a hung server fails it where a TCP connect would pass', {
  skip: mongoUnavailable(),
}, async () => {
  const server = await FerretdbInstance.create();
  await server.start();
  try {
    const up = await probe(server.port, 'mongodb');
    assert.equal(up.code, 0, `the probe failed on a server that answers: ${up.stderr}`);
    process.kill(server.pid as number, 'SIGSTOP');
    try {
      const started = performance.now();
      const hung = await probe(server.port, 'mongodb');
      assert.notEqual(hung.code, 0, 'the probe passed while the server could not answer (SIGSTOP)');
      assert.ok(performance.now() - started < 8_000, 'the probe gave up within its own 5 s');
    } finally {
      process.kill(server.pid as number, 'SIGCONT');
    }
    const back = await probe(server.port, 'mongodb');
    assert.equal(back.code, 0, back.stderr);
    await server.kill();
    const down = await probe(server.port, 'mongodb');
    assert.notEqual(down.code, 0, 'the probe passed with no server');
  } finally {
    await server.destroy();
  }
});
