import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { REPO, ServerProcess } from './support/server-process';
import { dropMysqlDatabase, MYSQL } from './support/stores';

const run = promisify(execFile);
const dockerfile = readFile(join(REPO, 'service', 'Dockerfile'), 'utf8');

/** The instructions of one stage of the Dockerfile, continuation lines joined. */
async function stage(name: string): Promise<string[]> {
  const lines = (await dockerfile)
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.trim());
  const start = lines.findIndex((line) => new RegExp(`^FROM .* AS ${name}$`).test(line));
  assert.ok(start >= 0, `the Dockerfile has no stage ${name}`);
  const end = lines.findIndex((line, index) => index > start && line.startsWith('FROM '));
  return lines.slice(start, end < 0 ? undefined : end).filter((line) => line && !line.startsWith('#'));
}

async function sizeOf(path: string): Promise<number> {
  const info = await stat(path);
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const entry of await readdir(path)) total += await sizeOf(join(path, entry));
  return total;
}

let image: string;

before(async () => {
  // The runtime stage, assembled here as the Dockerfile assembles it: manifests, its own production-only
  // install, the compiled service from the build stage, the page's static files.
  image = await mkdtemp(join(tmpdir(), 'two-tier-image-'));
  await mkdir(join(image, 'service'));
  for (const file of ['package.json', 'package-lock.json', 'service/package.json']) {
    await cp(join(REPO, file), join(image, file));
  }
  const install = (await stage('runtime'))
    .find((line) => line.startsWith('RUN npm ci'))
    ?.replace(/^RUN /, '')
    .split(' && ')[0] as string;
  assert.match(install, /--omit=dev/);
  await run('sh', ['-c', `${install} --prefer-offline`], { cwd: image });
  await run(process.execPath, [
    join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'),
    '-p',
    join(REPO, 'service', 'tsconfig.build.json'),
    '--outDir',
    join(image, 'service', 'dist'),
  ]);
  await cp(join(REPO, 'service', 'public'), join(image, 'service', 'public'), { recursive: true });
});

after(() => rm(image, { recursive: true, force: true }));

test('the Dockerfile: pinned base by version and digest, non-root numeric user, port 5000, node as PID 1', async () => {
  const text = await dockerfile;
  assert.match(text, /^ARG NODE_IMAGE=node:\d+\.\d+\.\d+-alpine\d+\.\d+@sha256:[0-9a-f]{64}$/m);
  const runtime = await stage('runtime');
  assert.match(runtime[0] as string, /^FROM \$\{NODE_IMAGE\} AS runtime$/);
  const user = runtime.find((line) => line.startsWith('USER '));
  assert.match(user ?? '', /^USER [1-9]\d*:[1-9]\d*$/);
  assert.ok(runtime.includes('EXPOSE 5000'));
  assert.equal(runtime.at(-1), 'CMD ["node", "service/dist/server.js"]');
  assert.ok(!runtime.some((line) => /COPY .*(test|bench|infra|policy|node_modules)/.test(line)));
});

test('.dockerignore lets in only the service and its manifests: no node_modules, tests or stacks', async () => {
  const rules = (await readFile(join(REPO, '.dockerignore'), 'utf8'))
    .split('\n')
    .filter((l) => l && !l.startsWith('#'));
  assert.equal(rules[0], '*', 'the context must start from nothing');
  for (const allowed of rules.slice(1)) {
    assert.doesNotMatch(allowed, /node_modules|test|Pulumi|bench|infra|policy/, `${allowed} lets too much in`);
  }
});

test('the runtime contents hold production dependencies only, and their size is reported', async (t) => {
  const modules = join(image, 'node_modules');
  const installed = await readdir(modules);
  for (const needed of ['fastify', 'mysql2', 'mongodb', 'prom-client', 'close-with-grace']) {
    assert.ok(installed.includes(needed), `${needed} is missing from the image`);
  }
  for (const excluded of [
    'typescript',
    'tsx',
    '@pulumi',
    '@biomejs',
    'kubernetes-models',
    'playwright-core',
    'autocannon',
  ]) {
    assert.ok(!installed.includes(excluded), `${excluded} must not be in the image`);
  }
  const bytes = await sizeOf(modules);
  const packages = installed.filter((name) => !name.startsWith('.')).length;
  t.diagnostic(
    `production dependencies in the image: ${packages} top-level packages, ${(bytes / 2 ** 20).toFixed(1)} MiB`,
  );
  assert.ok(bytes < 80 * 2 ** 20, `production dependencies take ${(bytes / 2 ** 20).toFixed(1)} MiB`);
});

test('the assembled image starts with plain node, is healthy and ready on MySQL, and exits 0 on SIGTERM', async () => {
  const database = `two_tier_image_${process.pid}`;
  const server = await ServerProcess.start(
    {
      NODE_ENV: 'production',
      DB_ENGINE: 'mysql',
      MYSQL_HOST: MYSQL.host,
      MYSQL_PORT: String(MYSQL.port),
      MYSQL_USER: MYSQL.user,
      MYSQL_PASSWORD: MYSQL.password,
      MYSQL_DATABASE: database,
    },
    join(image, 'service', 'dist', 'server.js'),
  );
  try {
    await server.listening();
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
    await server.waitForLog('database connected');
    const ready = await fetch(`${server.url}/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', engine: 'mysql' });
    const page = await fetch(`${server.url}/static/app.js`);
    assert.equal(page.status, 200, 'the page script is missing from the image');
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
  } finally {
    server.kill();
    await dropMysqlDatabase(database);
  }
});
