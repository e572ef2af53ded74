/**
 * `npm run bench`: the compiled service (MySQL, logging at info, metrics and validation on, the pods'
 * Node.js settings) against the framework-free baseline, loaded by wrk in its own process. Service,
 * baseline and the service without its request log line take turns over several rounds; medians,
 * spreads and each target's verdict are printed.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { WEB_NODE_OPTIONS } from '../infra/web-tier';
import { UNTHROTTLED } from '../test/support/server-process';
import { MYSQL, mysqlEnv } from '../test/support/stores';
import { type Load, wrk } from './wrk';

const REPO = join(__dirname, '..');
const DATABASE = 'two_tier_bench';
const CONNECTIONS = 32;
const DURATION_S = 8;
const WARMUP_S = 3;
/** Rounds per request, each starting with another side; the medians are reported. */
const ROUNDS = 5;
/** Cold starts of the compiled service, each timed from spawn to /ready answering 200. */
const STARTS = 5;
/** Each side's metrics listener: its port plus this, so the sides running together never collide. */
const METRICS_PORT_OFFSET = 1000;
const POST_BODY = JSON.stringify({ message: 'a benchmark message of ordinary length' });

const TARGETS = { ratio: 0.9, peakRssMiB: 120, startToReadyMs: 600 };

const work = mkdtempSync(join(tmpdir(), 'two-tier-bench-'));
const postScript = join(work, 'post.lua');
writeFileSync(
  postScript,
  `wrk.method = "POST"\nwrk.body = '${POST_BODY}'\nwrk.headers["Content-Type"] = "application/json"\n`,
);

function load(url: string, method: 'GET' | 'POST', seconds: number): Promise<Load> {
  return wrk(url, { connections: CONNECTIONS, seconds, script: method === 'POST' ? postScript : undefined });
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

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

interface Side {
  name: 'service' | 'baseline' | 'unlogged';
  port: number;
  args: string[];
  /** The path that answers 200 once the side can take the load. */
  ready: string;
  env?: Record<string, string>;
}
const SERVICE: Side = { name: 'service', port: 5100, args: ['service/dist/server.js'], ready: '/ready' };
const BASELINE: Side = {
  name: 'baseline',
  port: 5101,
  args: ['--import', 'tsx', 'bench/baseline.ts'],
  ready: '/messages',
};
/**
 * Not a target: the same service with its one log line per request turned off (LOG_LEVEL=warn), run in
 * the same rounds, so every run shows what that line costs against the baseline.
 */
const UNLOGGED: Side = { ...SERVICE, name: 'unlogged', port: 5102, env: { LOG_LEVEL: 'warn' } };
const SIDES = [SERVICE, BASELINE, UNLOGGED];
const fixed = (n: number, digits = 0) => n.toFixed(digits);

interface Summary {
  rate: number;
  min: number;
  max: number;
  p50: number;
  p99: number;
  errors: number;
}

/** Medians over the rounds, with the range of the throughput. */
function summary(loads: Load[]): Summary {
  const rates = loads.map((l) => l.requestsPerSecond);
  return {
    rate: median(rates),
    min: Math.min(...rates),
    max: Math.max(...rates),
    p50: median(loads.map((l) => l.p50)),
    p99: median(loads.map((l) => l.p99)),
    errors: loads.reduce((sum, l) => sum + l.errors, 0),
  };
}

const row = (who: string, x: Summary) =>
  `  ${who}  ${fixed(x.rate).padStart(6)} req/s (${fixed(x.min)}-${fixed(x.max)})  p50 ${fixed(x.p50, 2)} ms  p99 ${fixed(x.p99, 2)} ms  errors ${x.errors}`;
const verdict = (met: boolean) => (met ? 'met' : 'NOT MET');

async function main(): Promise<void> {
  const loadBefore = loadavg()[0] as number;
  execFileSync('npm', ['run', 'build', '--silent', '--workspace', 'service'], { cwd: REPO, stdio: 'inherit' });
  const admin = await mysql.createConnection(MYSQL);
  await admin.query(`DROP DATABASE IF EXISTS ${DATABASE}`);
  await admin.end();

  // The first start creates the database and its tables; the timed ones find them, as a restarted pod does.
  const startsMs: number[] = [];
  for (let attempt = 0; attempt <= STARTS; attempt++) {
    const { child, started } = start(SERVICE.args, SERVICE.port);
    await waitFor(`http://127.0.0.1:${SERVICE.port}${SERVICE.ready}`, 200);
    if (attempt > 0) startsMs.push(performance.now() - started);
    await stop(child);
  }

  const children = SIDES.map((side) => start(side.args, side.port, side.env).child);
  const lines: string[] = [];
  const verdicts: boolean[] = [];
  let peak = 0;
  let baselinePeak = 0;
  // A run that fails part-way still stops its servers, so the next run finds their ports free.
  try {
    for (const side of SIDES) await waitFor(`http://127.0.0.1:${side.port}${side.ready}`, 200);
    for (const [name, method] of [
      ['GET /messages (50 rows)', 'GET'],
      ['POST /messages', 'POST'],
    ] as const) {
      const rounds: Record<Side['name'], Load[]> = { service: [], baseline: [], unlogged: [] };
      if (method === 'GET') await resetTable(50);
      for (const side of SIDES) await load(`http://127.0.0.1:${side.port}/messages`, method, WARMUP_S);
      for (let round = 0; round < ROUNDS; round++) {
        // Each round starts with another side, so none always runs first or last.
        for (const side of [...SIDES.slice(round % SIDES.length), ...SIDES.slice(0, round % SIDES.length)]) {
          if (method === 'GET') await resetTable(50);
          rounds[side.name].push(await load(`http://127.0.0.1:${side.port}/messages`, method, DURATION_S));
        }
      }
      const s = summary(rounds.service);
      const b = summary(rounds.baseline);
      const u = summary(rounds.unlogged);
      const ratio = s.rate / b.rate;
      const roundRatios = rounds.service.map(
        (l, i) => l.requestsPerSecond / (rounds.baseline[i] as Load).requestsPerSecond,
      );
      const met = ratio >= TARGETS.ratio && s.errors === 0;
      verdicts.push(met);
      lines.push(
        `\n${name}`,
        row('service ', s),
        row('baseline', b),
        `  ratio ${fixed(ratio, 3)} (rounds ${fixed(Math.min(...roundRatios), 2)}-${fixed(Math.max(...roundRatios), 2)}), target >= ${TARGETS.ratio} with no errors: ${verdict(met)}`,
        row('unlogged', u),
        `  not a target: the service without its request log line (LOG_LEVEL=warn) at ${fixed(u.rate / b.rate, 3)} of the baseline`,
      );
    }
    [peak, baselinePeak] = children.map((child) => peakRssMiB(child.pid as number)) as [number, number];
  } finally {
    await Promise.all(children.map(stop));
  }

  const ready = median(startsMs);
  verdicts.push(peak < TARGETS.peakRssMiB, ready < TARGETS.startToReadyMs);
  console.log(`two-tier bench: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}`);
  console.log(
    `wrk (1 thread, ${CONNECTIONS} connections) in its own process, ${DURATION_S} s per load after a ${WARMUP_S} s warm-up, ${ROUNDS} rounds taking turns, medians (range); MariaDB on ${MYSQL.host}:${MYSQL.port}; NODE_OPTIONS=${WEB_NODE_OPTIONS}`,
  );
  console.log(`load average before ${fixed(loadBefore, 2)}, after ${fixed(loadavg()[0] as number, 2)}`);
  console.log(lines.join('\n'));
  console.log(
    `\nservice peak RSS ${fixed(peak, 1)} MiB (baseline ${fixed(baselinePeak, 1)} MiB), target < ${TARGETS.peakRssMiB} MiB: ${verdict(peak < TARGETS.peakRssMiB)}`,
  );
  console.log(
    `service start to /ready 200: ${fixed(ready)} ms (${startsMs.map((ms) => fixed(ms)).join(', ')}), target < ${TARGETS.startToReadyMs} ms: ${verdict(ready < TARGETS.startToReadyMs)}`,
  );
  console.log(`\ntargets met: ${verdicts.filter(Boolean).length} of ${verdicts.length}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
