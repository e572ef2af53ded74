/**
 * `npm run bench`: the compiled service (MySQL, logging at info, metrics and validation on, the pods'
 * Node.js settings) against the framework-free baseline, loaded by wrk in its own process. Service,
 * baseline, the service without its request log line and Fastify alone over the same store take turns
 * over several rounds; medians, spreads, each side's memory and each target's verdict are printed. All
 * run as bundles (esbuild), as the image runs the service: no loader in any process.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import mysql from 'mysql2/promise';
import { WEB_NODE_OPTIONS, WEB_RESOURCES } from '../infra/web-tier';
import { UNTHROTTLED } from '../test/support/server-process';
import { MYSQL, mysqlEnv } from '../test/support/stores';
import { cpuTimeMs, type Memory, machineTicks, memoryOf, stealShare } from './proc';
import { type Load, wrk } from './wrk';

const REPO = join(__dirname, '..');
const DATABASE = 'two_tier_bench';
const CONNECTIONS = 32;
const DURATION_S = 8;
const WARMUP_S = 3;
/** Rounds per request, each starting with another side; the medians are reported. */
const ROUNDS = 5;
/** Cold starts of the compiled service, each timed from spawn to /ready answering 200, on an idle machine and beside a load. */
const STARTS = 5;
/** Each side's metrics listener: its port plus this, so the sides running together never collide. */
const METRICS_PORT_OFFSET = 1000;
const POST_BODY = JSON.stringify({ message: 'a benchmark message of ordinary length' });

/** Throughput against the baseline; peak RSS against the baseline's in the same run; start to ready. */
const TARGETS = { ratio: 0.9, peakRssRatio: 1.05, startToReadyMs: 600 };
/** The pods' memory request, MiB: at least the service's measured peak. */
const REQUEST_MIB = Number(/^(\d+)Mi$/.exec(WEB_RESOURCES.requests.memory)?.[1]);

const work = mkdtempSync(join(tmpdir(), 'two-tier-bench-'));
/**
 * A side bundled as the service is (service/package.json's build): a loader such as tsx would add its
 * own thread and some 25 MiB to the floor's memory.
 */
function bundle(name: string): string {
  const outfile = join(work, `${name}.js`);
  buildSync({
    entryPoints: [join(__dirname, `${name}.ts`)],
    bundle: true,
    platform: 'node',
    target: 'node26',
    external: ['mongodb'],
    outfile,
    minifyWhitespace: true,
    logLevel: 'warning',
  });
  return outfile;
}
const postScript = join(work, 'post.lua');
writeFileSync(
  postScript,
  `wrk.method = "POST"\nwrk.body = '${POST_BODY}'\nwrk.headers["Content-Type"] = "application/json"\n`,
);

function load(url: string, method: 'GET' | 'POST', seconds: number, signal?: AbortSignal): Promise<Load> {
  return wrk(url, { connections: CONNECTIONS, seconds, script: method === 'POST' ? postScript : undefined, signal });
}

/**
 * One side's load in a round: wrk's figures, the CPU time the side's process spent per request, and the
 * share of the machine's CPU time the hypervisor took meanwhile.
 */
interface Round extends Load {
  cpuUsPerRequest: number;
  steal: number;
}

async function measuredLoad(pid: number, url: string, method: 'GET' | 'POST'): Promise<Round> {
  const cpuBefore = cpuTimeMs(pid);
  const ticksBefore = machineTicks();
  const result = await load(url, method, DURATION_S);
  return {
    ...result,
    cpuUsPerRequest: ((cpuTimeMs(pid) - cpuBefore) * 1000) / result.requests,
    steal: stealShare(ticksBefore, machineTicks()),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

async function resetTable(rows: number): Promise<void> {
  const connection = await mysql.createConnection({ ...MYSQL, database: DATABASE });
  await connection.query('TRUNCATE TABLE messages');
  await connection.query('INSERT INTO messages (message, created_at) VALUES ?', [
    Array.from({ length: rows }, (_, i) => [`seeded message ${i + 1}`, new Date()]),
  ]);
  await connection.end();
}

const env = {
  ...mysqlEnv(DATABASE),
  // The write limit runs, as in the pods, with a ceiling wrk's POST load never reaches.
  ...UNTHROTTLED,
  LOG_LEVEL: 'info',
  NODE_OPTIONS: WEB_NODE_OPTIONS,
};

/** Starts a server as the image does (CMD `node service/dist/server.js`), its log in a file. */
function start(
  args: string[],
  port: number,
  extraEnv: Record<string, string> = {},
): { child: ChildProcess; started: number } {
  const log = openSync(join(work, `${port}-${Date.now()}.log`), 'w');
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: REPO,
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      METRICS_PORT: String(port + METRICS_PORT_OFFSET),
      HOST: '127.0.0.1',
      ...env,
      ...extraEnv,
    },
    stdio: ['ignore', log, 'inherit'],
  });
  return { child, started };
}

/** Starts the compiled service `count` times, one after the other; each time from spawn to /ready 200, ms. */
async function timedStarts(count: number): Promise<number[]> {
  const times: number[] = [];
  for (let attempt = 0; attempt < count; attempt++) {
    const { child, started } = start(SERVICE.args, SERVICE.port, SERVICE.env);
    await waitFor(`http://127.0.0.1:${SERVICE.port}${SERVICE.ready}`, 200);
    times.push(performance.now() - started);
    await stop(child);
  }
  return times;
}

async function waitFor(url: string, status: number): Promise<void> {
  for (;;) {
    const response = await fetch(url).catch(() => undefined);
    if (response?.status === status) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

const describeMemory = (m: Memory) =>
  `peak RSS ${fixed(m.peak, 1)} MiB; at the end ${fixed(m.rss, 1)} MiB, of it ${fixed(m.anonymous, 1)} MiB anonymous and ${fixed(m.rss - m.anonymous, 1)} MiB mapped from files; ${m.threads} threads`;

interface Side {
  name: 'service' | 'baseline' | 'unlogged' | 'framework';
  port: number;
  args: string[];
  /** The path that answers 200 once the side can take the load. */
  ready: string;
  env?: Record<string, string>;
}
/** As in the image: V8's compile cache of the bundle, written by the first (untimed) start. */
const COMPILE_CACHE = { NODE_COMPILE_CACHE: join(work, 'compile-cache'), NODE_COMPILE_CACHE_PORTABLE: '1' };
const SERVICE: Side = {
  name: 'service',
  port: 5100,
  args: ['service/dist/server.js'],
  ready: '/ready',
  env: COMPILE_CACHE,
};
const BASELINE: Side = { name: 'baseline', port: 5101, args: [bundle('baseline')], ready: '/messages' };
/**
 * Not a target: the same service with its one log line per request turned off (LOG_LEVEL=warn), run in
 * the same rounds, so every run shows what that line costs against the baseline.
 */
const UNLOGGED: Side = { ...SERVICE, name: 'unlogged', port: 5102, env: { ...COMPILE_CACHE, LOG_LEVEL: 'warn' } };
/** Not a target: Fastify over the service's store with none of its plugins (bench/framework.ts). */
const FRAMEWORK: Side = { name: 'framework', port: 5103, args: [bundle('framework')], ready: '/messages' };
const SIDES = [SERVICE, BASELINE, UNLOGGED, FRAMEWORK];
/** One value for each side, by its name. */
const bySide = <T>(value: (side: Side) => T) =>
  Object.fromEntries(SIDES.map((side) => [side.name, value(side)])) as Record<Side['name'], T>;
const fixed = (n: number, digits = 0) => n.toFixed(digits);

interface Summary {
  rate: number;
  min: number;
  max: number;
  p50: number;
  p99: number;
  errors: number;
  cpuUsPerRequest: number;
}

/** Medians over the rounds, with the range of the throughput. */
function summary(loads: Round[]): Summary {
  const rates = loads.map((l) => l.requestsPerSecond);
  return {
    rate: median(rates),
    min: Math.min(...rates),
    max: Math.max(...rates),
    p50: median(loads.map((l) => l.p50)),
    p99: median(loads.map((l) => l.p99)),
    errors: loads.reduce((sum, l) => sum + l.errors, 0),
    cpuUsPerRequest: median(loads.map((l) => l.cpuUsPerRequest)),
  };
}

const row = (who: string, x: Summary) =>
  `  ${who}  ${fixed(x.rate).padStart(6)} req/s (${fixed(x.min)}-${fixed(x.max)})  p50 ${fixed(x.p50, 2)} ms  p99 ${fixed(x.p99, 2)} ms  errors ${x.errors}  CPU ${fixed(x.cpuUsPerRequest, 1)} us/request`;
const verdict = (met: boolean) => (met ? 'met' : 'NOT MET');

async function main(): Promise<void> {
  const loadBefore = loadavg()[0] as number;
  execFileSync('npm', ['run', 'build', '--silent', '--workspace', 'service'], { cwd: REPO, stdio: 'inherit' });
  const admin = await mysql.createConnection(MYSQL);
  await admin.query(`DROP DATABASE IF EXISTS ${DATABASE}`);
  await admin.end();

  // The first start creates the database and its tables; the timed ones find them, as a restarted pod does.
  const startsMs = await timedStarts(STARTS + 1);
  startsMs.shift();
  // A pod is often started when its node is busy: the same starts while wrk loads the baseline.
  const floor = start(BASELINE.args, BASELINE.port);
  let busyStartsMs: number[] = [];
  try {
    await waitFor(`http://127.0.0.1:${BASELINE.port}${BASELINE.ready}`, 200);
    const abort = new AbortController();
    const busy = load(`http://127.0.0.1:${BASELINE.port}/messages`, 'GET', 120, abort.signal).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    busyStartsMs = await timedStarts(STARTS);
    abort.abort();
    await busy;
  } finally {
    await stop(floor.child);
  }

  const children = bySide((side) => start(side.args, side.port, side.env).child);
  const lines: string[] = [];
  const verdicts: boolean[] = [];
  let memory: Record<Side['name'], Memory> | undefined;
  // A run that fails part-way still stops its servers, so the next run finds their ports free.
  try {
    for (const side of SIDES) await waitFor(`http://127.0.0.1:${side.port}${side.ready}`, 200);
    for (const [name, method] of [
      ['GET /messages (50 rows)', 'GET'],
      ['POST /messages', 'POST'],
    ] as const) {
      const rounds = bySide((): Round[] => []);
      if (method === 'GET') await resetTable(50);
      for (const side of SIDES) await load(`http://127.0.0.1:${side.port}/messages`, method, WARMUP_S);
      for (let round = 0; round < ROUNDS; round++) {
        // Each round starts with another side, so none always runs first or last.
        for (const side of [...SIDES.slice(round % SIDES.length), ...SIDES.slice(0, round % SIDES.length)]) {
          if (method === 'GET') await resetTable(50);
          const pid = children[side.name].pid as number;
          rounds[side.name].push(await measuredLoad(pid, `http://127.0.0.1:${side.port}/messages`, method));
        }
      }
      const s = summary(rounds.service);
      const b = summary(rounds.baseline);
      const u = summary(rounds.unlogged);
      const f = summary(rounds.framework);
      const ratio = s.rate / b.rate;
      const roundRatios = rounds.service.map(
        (l, i) => l.requestsPerSecond / (rounds.baseline[i] as Load).requestsPerSecond,
      );
      const steal = Object.values(rounds).flatMap((sideRounds) => sideRounds.map((r) => r.steal * 100));
      const met = ratio >= TARGETS.ratio && s.errors === 0;
      verdicts.push(met);
      lines.push(
        `\n${name}`,
        row('service ', s),
        row('baseline', b),
        `  ratio ${fixed(ratio, 3)} (rounds ${fixed(Math.min(...roundRatios), 2)}-${fixed(Math.max(...roundRatios), 2)}), target >= ${TARGETS.ratio} with no errors: ${verdict(met)}`,
        row('unlogged', u),
        `  not a target: the service without its request log line (LOG_LEVEL=warn) at ${fixed(u.rate / b.rate, 3)} of the baseline`,
        row('framework', f),
        `  not a target: Fastify alone over the same store at ${fixed(f.rate / b.rate, 3)} of the baseline, the service at ${fixed(s.rate / f.rate, 3)} of it`,
        `  not a target: CPU time per request, the service ${fixed(s.cpuUsPerRequest / b.cpuUsPerRequest, 3)} times the baseline's (unlogged ${fixed(u.cpuUsPerRequest / b.cpuUsPerRequest, 3)}, framework ${fixed(f.cpuUsPerRequest / b.cpuUsPerRequest, 3)})`,
        `  the hypervisor took ${fixed(median(steal), 1)}% of the machine's CPU time in the median load (${fixed(Math.min(...steal), 1)}-${fixed(Math.max(...steal), 1)}%)`,
      );
    }
    memory = bySide((side) => memoryOf(children[side.name].pid as number));
  } finally {
    await Promise.all(Object.values(children).map(stop));
  }

  const ready = median(startsMs);
  const { service, baseline, framework } = memory as Record<Side['name'], Memory>;
  const rssRatio = service.peak / baseline.peak;
  verdicts.push(rssRatio <= TARGETS.peakRssRatio, REQUEST_MIB >= service.peak, ready < TARGETS.startToReadyMs);
  console.log(`two-tier bench: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}`);
  console.log(
    `wrk (1 thread, ${CONNECTIONS} connections) in its own process, ${DURATION_S} s per load after a ${WARMUP_S} s warm-up, ${ROUNDS} rounds taking turns, medians (range); MariaDB on ${MYSQL.host}:${MYSQL.port}; NODE_OPTIONS=${WEB_NODE_OPTIONS}`,
  );
  console.log(`load average before ${fixed(loadBefore, 2)}, after ${fixed(loadavg()[0] as number, 2)}`);
  console.log(lines.join('\n'));
  console.log(
    `\nmemory, after both loads:\n  service   ${describeMemory(service)}\n  baseline  ${describeMemory(baseline)}`,
  );
  console.log(
    `  not a target: Fastify alone over the same store ${describeMemory(framework)}; its peak ${fixed(framework.peak / baseline.peak, 3)} of the baseline's`,
  );
  console.log(
    `  ratio of the peaks ${fixed(rssRatio, 3)}, target <= ${TARGETS.peakRssRatio}: ${verdict(rssRatio <= TARGETS.peakRssRatio)}`,
  );
  console.log(
    `  the pods' memory request ${REQUEST_MIB} MiB, target >= the service's peak (${fixed(service.peak, 1)} MiB): ${verdict(REQUEST_MIB >= service.peak)}`,
  );
  console.log(
    `\nservice start to /ready 200: ${fixed(ready)} ms (${startsMs.map((ms) => fixed(ms)).join(', ')}), target < ${TARGETS.startToReadyMs} ms: ${verdict(ready < TARGETS.startToReadyMs)}`,
  );
  console.log(
    `  not a target: beside wrk loading the baseline ${fixed(median(busyStartsMs))} ms (${busyStartsMs.map((ms) => fixed(ms)).join(', ')})`,
  );
  console.log(`\ntargets met: ${verdicts.filter(Boolean).length} of ${verdicts.length}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
