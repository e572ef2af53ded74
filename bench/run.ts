/**
 * `npm run bench`: loads the service (compiled, MySQL, logging at info, metrics on) and the baseline in
 * one run on this machine, and prints req/s, latency, errors, the service's peak RSS, the ratio to the
 * baseline and the time from process start to /ready answering 200.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import mysql from 'mysql2/promise';

const REPO = join(__dirname, '..');
const DATABASE = 'two_tier_bench';
const CONNECTIONS = 32;
const DURATION_S = 10;
const WARMUP_S = 3;
/** Rounds per request, alternating service and baseline; the medians are reported. */
const ROUNDS = 3;
const MYSQL = { host: '127.0.0.1', port: 3306, user: 'root', password: '' };

interface Load {
  requests: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(url: string, method: 'GET' | 'POST', duration: number): Promise<Load> {
  const result = await autocannon({
    url,
    method,
    connections: CONNECTIONS,
    duration,
    headers: method === 'POST' ? { 'content-type': 'application/json' } : {},
    body: method === 'POST' ? JSON.stringify({ message: 'a benchmark message of ordinary length' }) : undefined,
  });
  return {
    requests: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

/** The round with the median throughput. */
function median(loads: Load[]): Load {
  return [...loads].sort((a, b) => a.requests - b.requests)[Math.floor(loads.length / 2)] as Load;
}

async function resetTable(rows: number): Promise<void> {
  const connection = await mysql.createConnection({ ...MYSQL, database: DATABASE });
  await connection.query('TRUNCATE TABLE messages');
  for (let i = 1; i <= rows; i++) {
    await connection.execute('INSERT INTO messages (message, created_at) VALUES (?, ?)', [
      `seeded message ${i}`,
      new Date(),
    ]);
  }
  await connection.end();
}

function start(command: string[], port: number, env: Record<string, string>) {
  const log = openSync(join(mkdtempSync(join(tmpdir(), 'two-tier-bench-')), 'stdout.log'), 'w');
  const started = performance.now();
  const child = spawn(process.execPath, command, {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', log, 'inherit'],
  });
  return { child, started };
}

async function waitReady(url: string): Promise<void> {
  for (;;) {
    const response = await fetch(url).catch(() => undefined);
    if (response?.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

const format = (load: Load) =>
  `${load.requests.toFixed(0).padStart(7)} req/s  p50 ${String(load.p50).padStart(3)} ms  p99 ${String(load.p99).padStart(3)} ms  errors ${load.errors}`;

async function main(): Promise<void> {
  const env = {
    DB_ENGINE: 'mysql',
    MYSQL_HOST: MYSQL.host,
    MYSQL_PORT: String(MYSQL.port),
    MYSQL_USER: MYSQL.user,
    MYSQL_PASSWORD: MYSQL.password,
    MYSQL_DATABASE: DATABASE,
    LOG_LEVEL: 'info',
  };
  execFileSync(process.execPath, [
    join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'),
    '-p',
    join(REPO, 'service', 'tsconfig.build.json'),
  ]);
  const admin = await mysql.createConnection(MYSQL);
  await admin.query(`DROP DATABASE IF EXISTS ${DATABASE}`);
  await admin.end();

  const service = start(['service/dist/server.js'], 5100, env);
  await waitReady('http://127.0.0.1:5100/ready');
  const startToReadyMs = performance.now() - service.started;
  const baseline = start(['--import', 'tsx', 'bench/baseline.ts'], 5101, env);
  await waitReady('http://127.0.0.1:5101/messages');

  const results: Record<string, { service: Load; baseline: Load }> = {};
  for (const [name, method] of [
    ['GET /messages (50 rows)', 'GET'],
    ['POST /messages', 'POST'],
  ] as const) {
    const rounds: { service: Load[]; baseline: Load[] } = { service: [], baseline: [] };
    for (const port of [5100, 5101]) await load(`http://127.0.0.1:${port}/messages`, method, WARMUP_S);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [who, port] of [
        ['service', 5100],
        ['baseline', 5101],
      ] as const) {
        if (method === 'GET') await resetTable(50);
        rounds[who].push(await load(`http://127.0.0.1:${port}/messages`, method, DURATION_S));
      }
    }
    results[name] = { service: median(rounds.service), baseline: median(rounds.baseline) };
  }
  const peak = peakRssMiB(service.child.pid as number);
  service.child.kill('SIGTERM');
  baseline.child.kill('SIGTERM');

  console.log(`two-tier bench: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}`);
  console.log(
    `${CONNECTIONS} connections, ${DURATION_S} s per load after a ${WARMUP_S} s warm-up, median of ${ROUNDS} alternating rounds; MariaDB on 127.0.0.1`,
  );
  for (const [name, { service: s, baseline: b }] of Object.entries(results)) {
    console.log(`\n${name}`);
    console.log(`  service   ${format(s)}`);
    console.log(`  baseline  ${format(b)}`);
    console.log(`  ratio service/baseline: ${(s.requests / b.requests).toFixed(2)}`);
  }
  console.log(`\nservice peak RSS: ${peak.toFixed(1)} MiB`);
  console.log(`service start to /ready 200: ${startToReadyMs.toFixed(0)} ms`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
