import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { FIRST_BOOT_DONE_SCRIPT, firstBootDone, firstBootGuard } from '../infra/first-boot';

/**
 * The guard and the done marker on real bash, with a stand-in for an image's entrypoint that does what
 * the official ones do: an empty data directory is initialised and the init scripts are sourced, in
 * order; a directory with files in it is started as it is. INTERRUPT=1 kills it half-way through.
 */
const ENTRYPOINT = `set -eu
data="$1"; initdb="$2"
if [ -z "$(ls -A "$data")" ]; then
  echo "entrypoint: initialising"
  echo 'system tables' > "$data/ibdata1"
  if [ "\${INTERRUPT:-}" = 1 ]; then kill -9 $$; fi
  for f in "$initdb"/*; do . "$f"; done
else
  echo "entrypoint: starting on $(ls "$data" | tr '\\n' ' ')"
fi
`;

let folder: string;
let volume: { data: string; state: string; initdb: string; entrypoint: string };

beforeEach(async () => {
  folder = await mkdtemp(join(tmpdir(), 'two-tier-first-boot-'));
  volume = {
    data: join(folder, 'volume', 'data'),
    state: join(folder, 'volume', 'two-tier'),
    initdb: join(folder, 'initdb.d'),
    entrypoint: join(folder, 'entrypoint.sh'),
  };
  for (const dir of [volume.data, volume.state, volume.initdb]) await mkdir(dir, { recursive: true });
  await writeFile(join(volume.initdb, 'create-app-user.sh'), `echo app-user > "${volume.data}/app-user"\n`);
  await writeFile(join(volume.initdb, FIRST_BOOT_DONE_SCRIPT), firstBootDone(volume.state));
  await writeFile(volume.entrypoint, ENTRYPOINT);
});

afterEach(async () => {
  await rm(folder, { recursive: true, force: true });
});

/** One container start: the guard, then the entrypoint, as the pod's command and args say. */
function boot(env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'bash',
      [
        '-c',
        firstBootGuard(volume.data, volume.state),
        'first-boot-guard',
        'bash',
        volume.entrypoint,
        volume.data,
        volume.initdb,
      ],
      // stdin from /dev/null: bash reads ~/.bashrc when its stdin is a socket, as node's pipes are.
      { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const files = async (dir: string) => (await readdir(dir)).sort();

test('a first boot that completes is marked done, and every later boot starts on the data as it is', async () => {
  const first = await boot();
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /entrypoint: initialising/);
  assert.deepEqual(await files(volume.state), ['first-boot-done', 'first-boot-started']);
  await writeFile(join(volume.data, 'messages.ibd'), 'rows');

  const second = await boot();
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stderr, '', 'a later boot said something about the first');
  assert.match(second.stdout, /entrypoint: starting on app-user ibdata1 messages\.ibd/);
});

test('an interrupted first boot is said in the log and started again on an empty data directory', async () => {
  const interrupted = await boot({ INTERRUPT: '1' });
  assert.notEqual(interrupted.code, 0);
  assert.deepEqual(await files(volume.data), ['ibdata1'], 'the stand-in did not stop half-way');
  assert.deepEqual(await files(volume.state), ['first-boot-started']);

  const again = await boot();
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /^two-tier: the first boot of this volume was interrupted before it finished/);
  assert.match(again.stderr, /starting the first boot again\. Nothing to do/);
  assert.match(again.stdout, /entrypoint: initialising/, 'the entrypoint did not find an empty directory');
  assert.deepEqual(await files(volume.data), ['app-user', 'ibdata1'], 'the application user was not created');
  assert.deepEqual(await files(volume.state), ['first-boot-done', 'first-boot-started']);

  const later = await boot();
  assert.equal(later.stderr, '');
  assert.match(later.stdout, /entrypoint: starting on app-user ibdata1/);
});

test('a volume first booted before the markers existed is left as it is', async () => {
  await writeFile(join(volume.data, 'ibdata1'), 'system tables');
  await writeFile(join(volume.data, 'messages.ibd'), 'rows');
  const result = await boot();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  assert.match(result.stdout, /entrypoint: starting on ibdata1 messages\.ibd/);
  assert.deepEqual(await files(volume.state), [], 'an old volume was marked as if it had just been initialised');
});

test('a guard that cannot do its work says why in one line, and the entrypoint does not start', async () => {
  await rm(volume.state, { recursive: true });
  await writeFile(volume.state, 'a file where the markers folder should be');
  const result = await boot();
  assert.equal(result.code, 1);
  assert.doesNotMatch(result.stdout, /entrypoint:/, 'the entrypoint started on a volume the guard could not mark');
  const [cause] = result.stderr.split('\n').filter((line) => line.startsWith('two-tier:'));
  assert.equal(
    cause,
    `two-tier: the first-boot guard stopped (status 1) at: touch '${volume.state}/first-boot-started'; the database was not started.`,
  );
});
