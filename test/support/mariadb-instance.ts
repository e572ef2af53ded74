import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { freePort } from './ports';

const run = promisify(execFile);

/**
 * A MariaDB server of the test's own (own data folder, own port) from the installed mariadbd, so a
 * test can kill and restart it without disturbing the machine's database.
 */
export class MariadbInstance {
  private process: ChildProcess | undefined;

  private constructor(
    private readonly folder: string,
    readonly port: number,
  ) {}

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

  /** Starts the server and resolves once it answers. */
  async start(): Promise<void> {
    this.process = spawn(
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
    const deadline = Date.now() + 20_000;
    while (!(await this.answers())) {
      if (Date.now() > deadline) throw new Error(`the test MariaDB on port ${this.port} did not start in 20 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Kills the server as a crash would: no shutdown, no flush beyond what InnoDB already made durable. */
  async kill(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    this.process = undefined;
  }

  async destroy(): Promise<void> {
    await this.kill();
    await rm(this.folder, { recursive: true, force: true });
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
