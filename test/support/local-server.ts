import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';

/**
 * A database server of a test's own: a process on its own port with its data in its own folder, so a
 * test can kill and restart it without disturbing the machine's servers.
 */
export abstract class LocalServer {
  private process: ChildProcess | undefined;

  protected constructor(
    protected readonly folder: string,
    readonly port: number,
  ) {}

  /** The server's process id while it runs. */
  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** Starts the server and resolves once it answers. */
  abstract start(): Promise<void>;

  /** Watches a spawned server until `answers` says it is up; fails if it exits or takes 20 s. */
  protected async launched(child: ChildProcess, name: string, answers: () => Promise<boolean>): Promise<void> {
    this.process = child;
    const deadline = Date.now() + 20_000;
    while (!(await answers())) {
      if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}${this.exitLog()}`);
      if (Date.now() > deadline) throw new Error(`${name} on port ${this.port} did not start in 20 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** What the server said before it exited, for the error. */
  protected exitLog(): string {
    return '';
  }

  /** Kills the server as a crash would: no shutdown, no flush beyond what it already made durable. */
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
}
