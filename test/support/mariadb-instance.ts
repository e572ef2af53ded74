import { execFile, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { LocalServer } from './local-server';
import { freePort } from './ports';

const run = promisify(execFile);

/**
 * A MariaDB server of the test's own (own data folder, own port) from the installed mariadbd, so a
 * test can kill and restart it without disturbing the machine's database.
 */
export class MariadbInstance extends LocalServer {
  static async create(): Promise<MariadbInstance> {
    const folder = await mkdtemp(join(tmpdir(), 'two-tier-mariadb-'));
    await run('mariadb-install-db', [
      '--no-defaults',
      `--datadir=${join(folder, 'data')}`,
      '--user=root',
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
    ]);
    return new MariadbInstance(folder, await freePort());
  }

  async start(): Promise<void> {
    const child = spawn(
      'mariadbd',
      [
        '--no-defaults',
        `--datadir=${join(this.folder, 'data')}`,
        `--port=${this.port}`,
        '--bind-address=127.0.0.1',
        `--socket=${join(this.folder, 'mysqld.sock')}`,
        `--log-error=${join(this.folder, 'error.log')}`,
        '--user=root',
        '--skip-log-bin',
        '--innodb-buffer-pool-size=16M',
      ],
      { stdio: 'ignore' },
    );
    await this.launched(child, 'the test MariaDB', () => this.answers());
  }

  get connection() {
    return { host: '127.0.0.1', port: this.port, user: 'root', password: '' };
  }

  private async answers(): Promise<boolean> {
    try {
      const connection = await mysql.createConnection({ ...this.connection, connectTimeout: 500 });
      await connection.end();
      return true;
    } catch {
      return false;
    }
  }
}
