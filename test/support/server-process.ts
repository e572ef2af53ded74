import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from './ports';

export const REPO = join(__dirname, '..', '..');

/** A write limit no test's or benchmark's traffic reaches; a test of the limit sets its own. */
export const UNTHROTTLED = { RATE_LIMIT_MAX: String(1_000_000_000) };

/** The web tier as users run it: its own process, configured by environment variables. */
export class ServerProcess {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly metricsPort: number,
  ) {
    child.stdout
      ?.setEncoding('utf8')
      .on('data', (chunk: string) => this.stdout.push(...chunk.split('\n').filter(Boolean)));
    child.stderr
      ?.setEncoding('utf8')
      .on('data', (chunk: string) => this.stderr.push(...chunk.split('\n').filter(Boolean)));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /**
   * Starts `entry` (the TypeScript server by default) with `env` on top of a minimal, unthrottled environment
   * with ports of its own;
   * `command` replaces this Node.js and its arguments (e.g. another user's `node` with its entry).
   */
  static async start(
    env: Record<string, string>,
    entry = join(REPO, 'service', 'src', 'server.ts'),
    { command, cwd = REPO }: { command?: string[]; cwd?: string } = {},
  ) {
    const port = Number(env.PORT ?? (await freePort()));
    const metricsPort = Number(env.METRICS_PORT ?? (await freePort()));
    const [file, ...args] = command ?? [process.execPath, ...(entry.endsWith('.ts') ? ['--import', 'tsx'] : []), entry];
    const child = spawn(file as string, args, {
      cwd,
      env: {
        PATH: process.env.PATH ?? '',
        HOST: '127.0.0.1',
        PORT: String(port),
        METRICS_PORT: String(metricsPort),
        ...UNTHROTTLED,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new ServerProcess(child, port, metricsPort);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Where GET /metrics answers, apart from the public port. */
  get metricsUrl(): string {
    return `http://127.0.0.1:${this.metricsPort}`;
  }

  /** Pino lines parsed; lines that are not JSON are skipped. */
  get logs(): Array<Record<string, unknown>> {
    return this.stdout.flatMap((line) => {
      try {
        return [JSON.parse(line)];
      } catch {
        return [];
      }
    });
  }

  async waitForLog(message: string, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.logs.find((line) => line.msg === message);
      if (found) return found;
      if (this.child.exitCode !== null)
        throw new Error(`the server exited before logging "${message}": ${this.stderr.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`the server did not log "${message}" within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Resolves once both listeners, the web port's and the metrics port's, are up. */
  async listening(): Promise<void> {
    await this.waitForLog(`Server listening at ${this.url}`);
    await this.waitForLog(`Server listening at ${this.metricsUrl}`);
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
