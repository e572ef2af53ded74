import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Load } from '../../bench/wrk';
import { ARTIFACTS, chromiumMissing, launchChromium } from '../support/chromium';
import type { Cluster } from './cluster';
import { eventually, isReady, NAMESPACE, podsOf } from './workloads';

/**
 * A steady, bounded stream of requests against the exported url while something changes underneath
 * (an image update, a password change, a crash), counting every answer that is not a success: reads
 * from a few loops, and writes from `writers` loops, one every `writePauseMs` (the service limits writes
 * per client, and every request here comes from one address). `acknowledged` holds every message the
 * service answered 201 for.
 */
export class SteadyLoad {
  private running = true;
  private readonly loops: Promise<void>[];
  private readonly run = Math.random().toString(36).slice(2, 8);
  ok = 0;
  readonly failures: string[] = [];
  readonly acknowledged: string[] = [];

  /** `writers: 0` for reads only: a change during which a write may not be kept (an engine switch). */
  constructor(
    private readonly url: string,
    { readers = 4, writers = 1, writePauseMs = 5_000, maxSeconds = 600 } = {},
  ) {
    const deadline = Date.now() + maxSeconds * 1000;
    this.loops = [
      ...Array.from({ length: readers }, () => this.loop(deadline, 20, () => this.request('GET'))),
      ...Array.from({ length: writers }, (_, writer) =>
        this.loop(deadline, writePauseMs, (sequence) =>
          this.request('POST', `steady ${this.run} writer ${writer} write ${sequence}`),
        ),
      ),
    ];
  }

  private async loop(deadline: number, pauseMs: number, send: (sequence: number) => Promise<void>): Promise<void> {
    for (let sequence = 1; this.running && Date.now() < deadline; sequence++) {
      await send(sequence);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }

  private async request(method: 'GET' | 'POST', message?: string): Promise<void> {
    try {
      const response = await fetch(new URL('/messages', this.url), {
        method,
        headers: message ? { 'content-type': 'application/json' } : {},
        body: message ? JSON.stringify({ message }) : undefined,
        signal: AbortSignal.timeout(10_000),
      });
      await response.arrayBuffer();
      if (response.status === (method === 'POST' ? 201 : 200)) {
        this.ok++;
        if (message) this.acknowledged.push(message);
      } else this.failures.push(`${method} ${response.status}`);
    } catch (error) {
      this.failures.push(`${method} ${String((error as Error).cause ?? (error as Error).message)}`);
    }
  }

  /** Stops the loops and returns what they counted. */
  async stop(): Promise<{ ok: number; failed: number; failures: string[] }> {
    this.running = false;
    await Promise.all(this.loops);
    return { ok: this.ok, failed: this.failures.length, failures: this.failures.slice(0, 10) };
  }
}

/**
 * Posts a message at the url and asserts it was stored; when it was not, the failure says what the
 * service answered and what the web pods logged last, which is what tells a cause from a symptom.
 */
export async function postMessage(cluster: Cluster, url: string, message: string): Promise<void> {
  const posted = await fetch(`${url}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message }),
  });
  if (posted.status === 201) return;
  const answer = await posted.text();
  const pods = await podsOf(cluster);
  const states = pods.map(
    (pod) =>
      `${pod.metadata.name} ${isReady(pod) ? 'ready' : 'not ready'}${pod.metadata.deletionTimestamp ? ' terminating' : ''}`,
  );
  const logs = await cluster
    .kubectl([
      'logs',
      '-n',
      NAMESPACE,
      '-l',
      'app.kubernetes.io/component=web',
      '--tail=20',
      '--prefix',
      '--all-containers',
    ])
    .catch((error: Error) => `no logs: ${error.message}`);
  console.log(`the post that failed: pods ${states.join(', ')}\nthe web pods' last lines:\n${logs}`);
  assert.fail(`a message posted at the url was not stored: ${posted.status} ${answer}`);
}

/** Every message the url lists, following its pages (`Link: rel="next"`). */
export async function allMessages(url: string): Promise<string[]> {
  const all: string[] = [];
  for (let next: string | undefined = `${url}/messages?limit=500`, pages = 0; next && pages < 100; pages++) {
    const response = await fetch(next);
    assert.equal(response.status, 200, `GET ${next}`);
    all.push(...((await response.json()) as { message: string }[]).map((item) => item.message));
    const link = response.headers.get('link')?.match(/<([^>]+)>;\s*rel="next"/)?.[1];
    next = link ? new URL(link, url).href : undefined;
  }
  return all;
}

/** Polls the url's /ready until it answers 200. */
export function urlReady(url: string, what: string, seconds: number): Promise<number> {
  return eventually(what, async () => (await fetch(`${url}/ready`)).status === 200, seconds);
}

/** One screenshot of the board at the url, saved for people to look at (a CI artefact). */
export async function screenshot(url: string, name: string, message: string): Promise<void> {
  if (chromiumMissing()) return;
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(url);
    await page.getByText(message).waitFor({ timeout: 10_000 });
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  } finally {
    await browser.close();
  }
}

export function describeLoad(load: Load): string {
  return `${load.requestsPerSecond.toFixed(0)} req/s, p50 ${load.p50.toFixed(1)} ms, p99 ${load.p99.toFixed(1)} ms, ${load.errors} errors`;
}

/** Failures by kind, most frequent first: "429 x 1100, ECONNREFUSED x 46" (the service is not Ready while its database is down). */
export function tally(failures: string[]): string {
  const counts = new Map<string, number>();
  for (const failure of failures) {
    const kind = failure.replace(/^(GET|POST) /, '').replace(/^Error: connect (\w+).*$/, '$1');
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  if (counts.size === 0) return 'none';
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([kind, count]) => `${kind} x ${count}`)
    .join(', ');
}
