import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalServer } from './local-server';
import { freePort } from './ports';
import { TOOLCHAIN_BIN } from './toolchain';

/** FerretDB (a MongoDB-protocol server over SQLite), as `scripts/toolchain.sh ferretdb` builds it. */
export const FERRETDB_BIN = process.env.FERRETDB_BIN ?? join(TOOLCHAIN_BIN, 'ferretdb');

/**
 * Why the MongoDB tests cannot run here, or `false` when they can. In CI (CI=true) a missing server is
 * an error, never a skip.
 */
export function mongoUnavailable(): string | false {
  if (process.env.MONGODB_URL || existsSync(FERRETDB_BIN)) return false;
  const reason = `no MongoDB-protocol server: MONGODB_URL is not set and there is no FerretDB at ${FERRETDB_BIN} (run scripts/toolchain.sh ferretdb, or set FERRETDB_BIN)`;
  if (process.env.CI === 'true') throw new Error(`${reason}; CI must run the MongoDB tests`);
  return reason;
}

/** An administrator created in `admin` on the first start; clients must then log in (SCRAM). */
export interface FerretdbAdmin {
  username: string;
  password: string;
}

/** A FerretDB of the test's own (own data folder, own port), which a test may stop and start again. */
export class FerretdbInstance extends LocalServer {
  private readonly log: string[] = [];

  private constructor(
    folder: string,
    port: number,
    private readonly admin?: FerretdbAdmin,
  ) {
    super(folder, port);
  }

  /** Without `admin`, clients need no login; with it, they must log in, as on the real node's image. */
  static async create(admin?: FerretdbAdmin): Promise<FerretdbInstance> {
    return new FerretdbInstance(await mkdtemp(join(tmpdir(), 'two-tier-ferretdb-')), await freePort(), admin);
  }

  get url(): string {
    return `mongodb://127.0.0.1:${this.port}/`;
  }

  async start(): Promise<void> {
    const child = spawn(
      FERRETDB_BIN,
      [
        '--handler=sqlite',
        `--sqlite-url=file:${this.folder}/`,
        `--state-dir=${this.folder}`,
        `--listen-addr=127.0.0.1:${this.port}`,
        `--debug-addr=127.0.0.1:${await freePort()}`,
        '--telemetry=disable',
        '--log-level=warn',
        ...(this.admin
          ? [
              '--test-enable-new-auth',
              '--setup-database=admin',
              `--setup-username=${this.admin.username}`,
              `--setup-password=${this.admin.password}`,
            ]
          : []),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => this.log.push(chunk));
    await this.launched(child, 'FerretDB', () => accepts(this.port));
  }

  protected override exitLog(): string {
    return `: ${this.log.join('')}`;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
