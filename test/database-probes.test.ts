import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import { ENGINES } from '../infra/database';
import { MariadbInstance } from './support/mariadb-instance';

/**
 * The MySQL pod's probe command, run as the kubelet runs it, against a server of the test's own. The
 * mysqladmin here is MariaDB's; MySQL's has the same rule (client/mysqladmin.cc): a server that
 * refuses the login still answered, so `ping` exits 0; only a server that does not answer is a failure.
 */
let database: MariadbInstance;

function probe(port: number): Promise<{ code: number; stderr: string }> {
  const command = ENGINES.mysql.probe(port).exec?.command ?? [];
  const [file, ...args] = command as [string, ...string[]];
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 15_000 }, (error, _stdout, stderr) =>
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
