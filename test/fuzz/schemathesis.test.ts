import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { waitFor } from '../support/app';
import { REPO, ServerProcess } from '../support/server-process';
import {
  describeMongo,
  dropMongoDatabase,
  dropMysqlDatabase,
  ENGINES,
  type Engine,
  mongoEnv,
  mysqlEnv,
  stopFerretdb,
  unavailable,
  uniqueName,
} from '../support/stores';

/** Fixed, so a failure replays: the same seed generates the same requests. */
const SEED = 20_260_421;
/** Test cases per operation and phase: bounded, so the run's time is predictable (about a minute per engine). */
const MAX_EXAMPLES = 100;

const SCHEMATHESIS = process.env.SCHEMATHESIS;

interface HarEntry {
  request: { method: string; url: string; headers: { name: string; value: string }[] };
  response: { status: number };
}

/** A database of the engine's own, as the service's environment, and how to remove it. */
async function database(engine: Engine): Promise<{ env: Record<string, string>; drop(): Promise<void> }> {
  const name = uniqueName();
  if (engine === 'mysql') return { env: mysqlEnv(name), drop: () => dropMysqlDatabase(name) };
  if (engine === 'mongodb') return { env: await mongoEnv(name), drop: () => dropMongoDatabase(name) };
  return { env: { DB_ENGINE: 'memory' }, drop: async () => {} };
}

/**
 * How many messages and documents the accepted writes made: each accepted write without an
 * Idempotency-Key is one, and a key stands for one write however often it was accepted (a replay).
 */
function acceptedWrites(entries: HarEntry[]): { messages: number; documents: number } {
  const writes = { messages: new Set<string>(), documents: new Set<string>() };
  entries.forEach(({ request, response }, index) => {
    const path = new URL(request.url).pathname;
    if (request.method !== 'POST' || ![201, 303].includes(response.status)) return;
    const kind =
      path === '/data' ? writes.documents : ['/messages', '/submit'].includes(path) ? writes.messages : undefined;
    const key = request.headers.find((header) => header.name.toLowerCase() === 'idempotency-key')?.value;
    kind?.add(key === undefined ? `request ${index}` : `key ${key}`);
  });
  return { messages: writes.messages.size, documents: writes.documents.size };
}

/** Every item of a list, page after page through its Link headers. */
async function countAll(base: string, path: string): Promise<number> {
  let count = 0;
  for (let next: string | undefined = `${path}?limit=500`; next; ) {
    const response = await fetch(new URL(next, base));
    assert.equal(response.status, 200, `GET ${next}`);
    count += ((await response.json()) as unknown[]).length;
    next = /<([^>]+)>; rel="next"/.exec(response.headers.get('link') ?? '')?.[1];
  }
  return count;
}

describe('schemathesis against the OpenAPI document', {
  skip: SCHEMATHESIS ? false : 'run it with scripts/schemathesis.sh',
}, () => {
  after(stopFerretdb);

  for (const engine of ENGINES) {
    const skip = unavailable(engine);
    test(`${engine}: every check passes, no answer is a 5xx, and exactly the accepted writes are stored`, {
      skip,
    }, async (t) => {
      if (engine === 'mongodb') t.diagnostic(describeMongo());
      const onFerretdb = engine === 'mongodb' && !process.env.MONGODB_URL;
      const hooks = onFerretdb ? { SCHEMATHESIS_HOOKS: join(REPO, 'scripts', 'schemathesis_ferretdb.py') } : {};
      if (onFerretdb) t.diagnostic('no nested arrays nor control characters in keys: FerretDB cannot store them');
      const { env, drop } = await database(engine);
      const server = await ServerProcess.start(env);
      const reports = await mkdtemp(join(tmpdir(), 'two-tier-fuzz-'));
      try {
        await server.listening();
        await waitFor(
          async () => (await fetch(`${server.url}/ready`)).status === 200,
          'the service to be ready',
          30_000,
        );
        const har = join(reports, 'requests.har');
        const started = performance.now();
        const run = await promisify(execFile)(
          SCHEMATHESIS as string,
          [
            '--config-file',
            join(REPO, 'scripts', 'schemathesis.toml'),
            'run',
            `${server.url}/docs/json`,
            '--checks=all',
            `--seed=${SEED}`,
            `--max-examples=${MAX_EXAMPLES}`,
            '--workers=1',
            '--report=har',
            `--report-har-path=${har}`,
            // The HAR must keep the Idempotency-Key values, which schemathesis hides by default.
            '--output-sanitize=false',
          ],
          // In the reports' folder: schemathesis keeps a cache folder where it runs.
          { cwd: reports, maxBuffer: 64 * 2 ** 20, env: { ...process.env, NO_COLOR: '1', ...hooks } },
        ).then(
          ({ stdout }) => ({ code: 0, stdout }),
          (error: { code?: number; stdout?: string; stderr?: string }) => ({
            code: error.code ?? -1,
            stdout: `${error.stdout ?? ''}${error.stderr ?? ''}`,
          }),
        );
        const summary = /^\s*\d+ generated.*$/m.exec(run.stdout)?.[0]?.trim();
        t.diagnostic(`${summary ?? 'no summary'} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
        for (const warning of run.stdout.match(/^\s*⚠️.*$/gm) ?? []) t.diagnostic(`schemathesis: ${warning.trim()}`);
        assert.equal(run.code, 0, `schemathesis failed:\n${run.stdout.slice(run.stdout.indexOf('FAILURES'))}`);

        const entries = (JSON.parse(await readFile(har, 'utf8')) as { log: { entries: HarEntry[] } }).log.entries;
        assert.ok(entries.length > 100, `schemathesis sent only ${entries.length} requests`);
        const errors = entries.filter((entry) => entry.response.status >= 500);
        assert.deepEqual(
          errors.map((entry) => `${entry.request.method} ${entry.request.url} ${entry.response.status}`),
          [],
        );
        const accepted = acceptedWrites(entries);
        const stored = {
          messages: await countAll(server.url, '/messages'),
          documents: await countAll(server.url, '/data'),
        };
        t.diagnostic(`accepted and stored: ${JSON.stringify(accepted)}`);
        assert.ok(accepted.messages > 0 && accepted.documents > 0, 'schemathesis had no write accepted');
        assert.deepEqual(stored, accepted, 'the database does not hold exactly the accepted writes');
      } finally {
        server.kill();
        await server.exited;
        await rm(reports, { recursive: true, force: true });
        await drop();
      }
    });
  }
});
