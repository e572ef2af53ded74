import { type ChildProcess, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * One process of the node, as data: what it runs, how it is known to be up, and how it is stopped.
 * `Processes` starts a list of them in order and stops them in reverse.
 */
export interface Component {
  readonly name: string;
  readonly command: string;
  readonly args: string[];
  /** Resolves true once the component serves. */
  ready(): Promise<boolean>;
  /** How long it may take to become ready. */
  readonly startSeconds: number;
  /** How long SIGTERM is given before SIGKILL (the API server can take a minute to exit by itself). */
  readonly stopSeconds: number;
  /** Runs before the process is stopped (containerd ends its containers first). */
  beforeStop?(): Promise<void>;
  readonly env?: Record<string, string>;
}

interface Started {
  readonly component: Component;
  readonly child: ChildProcess;
}

/** The node's processes, each started by its own PID with its log in the node's folder. */
export class Processes {
  private readonly started: Started[] = [];

  constructor(
    private readonly folder: string,
    private readonly report: (line: string) => void,
  ) {}

  /** Starts one component and waits until it is ready; a failure names it and ends the wait. */
  async start(component: Component): Promise<void> {
    const begun = performance.now();
    const log = openSync(join(this.folder, 'logs', `${component.name}.log`), 'a');
    const child = spawn(component.command, component.args, {
      stdio: ['ignore', log, log],
      env: { ...process.env, ...component.env },
      // A process group of its own: a Ctrl-C or a CI timeout signals the test's group, and a node
      // whose parts all stopped at once (containerd before its containers) could not be taken down
      // in order; the test's handler stops each part itself, in reverse.
      detached: true,
    });
    this.started.push({ component, child });
    const deadline = Date.now() + component.startSeconds * 1000;
    while (!(await component.ready().catch(() => false))) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `${component.name} exited (${child.exitCode ?? child.signalCode}); see ${this.logOf(component)}`,
        );
      }
      if (Date.now() > deadline) {
        throw new Error(
          `${component.name} was not ready within ${component.startSeconds} s; see ${this.logOf(component)}`,
        );
      }
      await sleep(200);
    }
    this.report(`${component.name} ready in ${((performance.now() - begun) / 1000).toFixed(1)} s (pid ${child.pid})`);
  }

  /** Stops every started component, last first; each by its PID, SIGKILL after its grace. */
  async stopAll(): Promise<void> {
    for (const { component, child } of this.started.reverse()) {
      await component.beforeStop?.().catch((error: Error) => this.report(`${component.name}: ${error.message}`));
      await stop(child, component.stopSeconds);
      this.report(`${component.name} stopped`);
    }
    this.started.length = 0;
  }

  logOf(component: Pick<Component, 'name'>): string {
    return join(this.folder, 'logs', `${component.name}.log`);
  }
}

/** SIGTERM, then SIGKILL once `seconds` have passed; resolves when the process has exited. */
export async function stop(child: ChildProcess, seconds: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), seconds * 1000);
  await exited;
  clearTimeout(timer);
}

/** Ends a process this node started but does not hold a handle to (a container's), by its PID. */
export function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** The status code of a GET on the node's loopback, over TLS with the given client identity when asked. */
export function statusOf(url: string, tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer }): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = request(url, { timeout: 2_000, ...(tls ?? {}), rejectUnauthorized: Boolean(tls?.ca) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer in 2 s`)));
    req.on('error', reject);
    req.end();
  });
}
