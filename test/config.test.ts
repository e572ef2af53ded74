import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../service/src/config';
import { ServerProcess } from './support/server-process';

test('every variable of the contract has its documented default', () => {
  assert.deepEqual(loadConfig({}), {
    HOST: '0.0.0.0',
    PORT: 5000,
    METRICS_PORT: 9464,
    DB_ENGINE: 'memory',
    MYSQL_HOST: '127.0.0.1',
    MYSQL_PORT: 3306,
    MYSQL_USER: 'root',
    MYSQL_PASSWORD: '',
    MYSQL_DATABASE: 'app',
    MONGODB_URL: 'mongodb://127.0.0.1:27017',
    MONGODB_DATABASE: 'app',
    LOG_LEVEL: 'info',
    RATE_LIMIT_MAX: 30,
    RATE_LIMIT_WINDOW_SECONDS: 60,
    TRUSTED_PROXIES: '',
  });
});

test('TRUSTED_PROXIES takes IPv4 and IPv6 addresses and CIDR ranges', () => {
  assert.equal(
    loadConfig({ TRUSTED_PROXIES: '10.42.0.0/16, 192.0.2.1,fd00::/8' }).TRUSTED_PROXIES,
    '10.42.0.0/16, 192.0.2.1,fd00::/8',
  );
});

test('values are read from the given source and numbers are parsed', () => {
  const config = loadConfig({ PORT: '8080', DB_ENGINE: 'mysql', MYSQL_PORT: '3307', UNRELATED: 'ignored' });
  assert.equal(config.PORT, 8080);
  assert.equal(config.DB_ENGINE, 'mysql');
  assert.equal(config.MYSQL_PORT, 3307);
});

test('a bad value is one line that names the variable and what it must be', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'abc' }, /^invalid configuration: PORT must be integer$/],
    [{ PORT: '70000' }, /^invalid configuration: PORT must be <= 65535$/],
    [{ DB_ENGINE: 'postgres' }, /^invalid configuration: DB_ENGINE must be one of mysql, mongodb, memory$/],
    [{ LOG_LEVEL: 'loud' }, /^invalid configuration: LOG_LEVEL must be one of fatal, error, warn, info/],
    [{ MYSQL_PORT: '0' }, /^invalid configuration: MYSQL_PORT must be >= 1$/],
    [{ MYSQL_DATABASE: 'app; DROP' }, /^invalid configuration: MYSQL_DATABASE must match pattern/],
    [{ MONGODB_URL: 'http://db:27017' }, /^invalid configuration: MONGODB_URL must match pattern/],
    [{ METRICS_PORT: '0' }, /^invalid configuration: METRICS_PORT must be >= 1$/],
    [{ PORT: '9464' }, /^invalid configuration: METRICS_PORT must differ from PORT \(both are 9464\)$/],
    [{ RATE_LIMIT_MAX: '0' }, /^invalid configuration: RATE_LIMIT_MAX must be >= 1$/],
    [{ RATE_LIMIT_MAX: 'lots' }, /^invalid configuration: RATE_LIMIT_MAX must be integer$/],
    [{ RATE_LIMIT_WINDOW_SECONDS: '90000' }, /^invalid configuration: RATE_LIMIT_WINDOW_SECONDS must be <= 86400$/],
    [{ TRUSTED_PROXIES: '10.42.0.0/16, elb' }, /^invalid configuration: TRUSTED_PROXIES must be .*; "elb" is not one$/],
    [{ TRUSTED_PROXIES: '10.42.0.0/33' }, /^invalid configuration: TRUSTED_PROXIES .*"10\.42\.0\.0\/33" is not one$/],
  ];
  for (const [source, expected] of cases) {
    assert.throws(
      () => loadConfig(source),
      (error: Error) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, expected);
        assert.equal(error.message.split('\n').length, 1);
        return true;
      },
    );
  }
});

test('the process refuses to start on bad configuration with one line on stderr and exit code 1', async () => {
  const server = await ServerProcess.start({ DB_ENGINE: 'postgres' });
  assert.equal(await server.exited, 1);
  assert.deepEqual(server.stderr, ['invalid configuration: DB_ENGINE must be one of mysql, mongodb, memory']);
});

test('the MySQL password never appears in the logs, even while the database is unreachable', async () => {
  const password = 'pw-that-must-not-leak-7d1f';
  const server = await ServerProcess.start({
    DB_ENGINE: 'mysql',
    MYSQL_PORT: '1',
    MYSQL_PASSWORD: password,
    LOG_LEVEL: 'trace',
  });
  try {
    await server.listening();
    const retry = await server.waitForLog('database not reachable yet; retrying');
    assert.equal(retry.attempt, 1);
    await fetch(`${server.url}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${password}` },
      body: JSON.stringify({ message: 'x' }),
    });
    await server.waitForLog('request completed');
  } finally {
    server.kill();
    await server.exited;
  }
  const output = [...server.stdout, ...server.stderr].join('\n');
  assert.ok(!output.includes(password), 'the password appeared in the output');
});
