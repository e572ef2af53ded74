import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { REPO, ServerProcess } from './support/server-process';
import { dropMysqlDatabase, mysqlEnv } from './support/stores';

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

/** The runtime stage as executed here: its folder, where WORKDIR put the app, its ENV, USER and CMD. */
interface Image {
  root: string;
  app: string;
  env: Record<string, string>;
  user: [number, number];
  cmd: string[];
}

let image: Image;
let build: string;

/**
 * Executes the runtime stage's own instructions in order: COPY from the context (the repository) or
 * from the build stage (its `npm run build --workspace service`, bundled here into a folder standing for /repo), RUN with
 * npm's cache left alone, WORKDIR, ENV, USER, CMD. An instruction it does not know fails the test.
 */
async function executeRuntimeStage(): Promise<Image> {
  build = await mkdtemp(join(tmpdir(), 'two-tier-build-'));
  await run('npm', ['run', 'build', '--workspace', 'service', '--', `--outdir=${join(build, 'service', 'dist')}`], {
    cwd: REPO,
  });
  const root = await mkdtemp(join(tmpdir(), 'two-tier-image-'));
  // mkdtemp makes the folder private to root; the image's user must be able to enter it.
  await chmod(root, 0o755);
  const result: Image = { root, app: root, env: {}, user: [0, 0], cmd: [] };
  for (const line of (await stage('runtime')).slice(1)) {
    const [op, ...args] = line.split(' ');
    switch (op) {
      case 'ENV':
        for (const pair of args) {
          const [name, value] = pair.split('=');
          result.env[name as string] = value ?? '';
        }
        break;
      case 'WORKDIR':
        result.app = join(root, args.join(' '));
        await mkdir(result.app, { recursive: true });
        break;
      case 'COPY': {
        const from = args[0]?.startsWith('--from=build') ? args.shift() : undefined;
        const destination = args.pop() as string;
        for (const source of args) {
          const origin = from ? join(build, relative('/repo', source)) : join(REPO, source);
          const target = destination.endsWith('/')
            ? join(result.app, destination, basename(source))
            : join(result.app, destination);
          await cp(origin, target, { recursive: true });
        }
        break;
      }
      case 'RUN': {
        const commands = args
          .join(' ')
          .split(' && ')
          .filter((command) => !command.startsWith('npm cache clean'))
          .map((command) => (command.startsWith('npm ci') ? `${command} --prefer-offline` : command));
        // As Docker does, a RUN sees the ENV set before it.
        await run('sh', ['-c', commands.join(' && ')], { cwd: result.app, env: { ...process.env, ...result.env } });
        break;
      }
      case 'USER':
        result.user = args[0]?.split(':').map(Number) as [number, number];
        break;
      case 'CMD':
        result.cmd = JSON.parse(args.join(' '));
        break;
      case 'EXPOSE':
        break;
      default:
        assert.fail(`the image test does not know the instruction ${op}`);
    }
  }
  return result;
}

before(async () => {
  image = await executeRuntimeStage();
});

after(async () => {
  await run('chmod', ['-R', 'u+w', image.root]);
  await rm(image.root, { recursive: true, force: true });
  await rm(build, { recursive: true, force: true });
});

test('the Dockerfile: pinned base by version and digest, non-root numeric user, ports 5000 and 9464, node as PID 1', async () => {
  const text = await dockerfile;
  assert.match(text, /^ARG NODE_IMAGE=node:\d+\.\d+\.\d+-alpine\d+\.\d+@sha256:[0-9a-f]{64}$/m);
  const runtime = await stage('runtime');
  assert.match(runtime[0] as string, /^FROM \$\{NODE_IMAGE\} AS runtime$/);
  const user = runtime.find((line) => line.startsWith('USER '));
  assert.match(user ?? '', /^USER [1-9]\d*:[1-9]\d*$/);
  assert.ok(runtime.includes('EXPOSE 5000 9464'), 'the web port and the metrics port');
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
  const modules = join(image.app, 'node_modules');
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

test("one Node.js major everywhere: the image's, engines, the bundle's target, .ci/run, the workflows and @types/node", async () => {
  const major = /^ARG NODE_IMAGE=node:(\d+)\./m.exec(await dockerfile)?.[1];
  assert.ok(major, 'the Dockerfile names no Node.js version');
  const text = (path: string) => readFile(join(REPO, path), 'utf8');
  const root = JSON.parse(await text('package.json'));
  const service = JSON.parse(await text('service/package.json'));
  const ci = await text('.ci/run');
  const majors: [string, string | undefined][] = [
    ['package.json engines.node', /^>=(\d+)/.exec(root.engines.node)?.[1]],
    ['service/package.json engines.node', /^>=(\d+)/.exec(service.engines.node)?.[1]],
    ["the service's esbuild --target", /--target=node(\d+)\b/.exec(service.scripts.build)?.[1]],
    ['@types/node', /^\^(\d+)\./.exec(root.devDependencies['@types/node'])?.[1]],
    [".ci/run's NODE_VERSION", /^NODE_VERSION=(\d+)\./m.exec(ci)?.[1]],
    [".ci/run's oldest accepted Node.js", /\)" -lt (\d+) \]; then$/m.exec(ci)?.[1]],
  ];
  const workflows = join(REPO, '.github', 'workflows');
  for (const file of await readdir(workflows)) {
    const workflow = await readFile(join(workflows, file), 'utf8');
    for (const [, version] of workflow.matchAll(/node-version: (\S+)/g)) majors.push([`${file} node-version`, version]);
    for (const [, version] of workflow.matchAll(/container: node:(\d+)/g)) majors.push([`${file} container`, version]);
  }
  assert.ok(majors.length > 8, 'no workflow sets up Node.js');
  const others = majors.filter(([, found]) => found !== major).map(([where, found]) => `${where}: ${found}`);
  assert.deepEqual(others, [], `the image runs Node.js ${major}; these do not`);
});

test('the image runs under its Node major as its non-root user, with the application read-only: healthy, ready, page files, exit 0; its data command exports', async () => {
  const major = /^ARG NODE_IMAGE=node:(\d+)\./m.exec(await dockerfile)?.[1];
  assert.equal(
    process.versions.node.split('.')[0],
    major,
    `the test runs Node ${process.version}, the image Node ${major}`,
  );
  assert.deepEqual(image.cmd.slice(0, 1), ['node']);
  // The image's own node, outside /root (which the image's user cannot enter), then everything read-only.
  const node = join(image.root, 'usr', 'local', 'bin', 'node');
  await mkdir(dirname(node), { recursive: true });
  await cp(process.execPath, node);
  await run('chmod', ['-R', 'a-w', image.root]);
  const [uid, gid] = image.user;
  const database = `two_tier_image_${process.pid}`;
  const server = await ServerProcess.start(
    {
      ...image.env,
      ...mysqlEnv(database),
    },
    undefined,
    {
      command: ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', node, ...image.cmd.slice(1)],
      cwd: image.app,
    },
  );
  try {
    await server.listening();
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
    await server.waitForLog('database connected');
    const ready = await fetch(`${server.url}/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready' }, 'the public /ready gives the status only');
    const detail = await fetch(`${server.metricsUrl}/ready`);
    assert.deepEqual(await detail.json(), { status: 'ready', engine: 'mysql' });
    const page = await fetch(`${server.url}/static/app.js`);
    assert.equal(page.status, 200, 'the page script is missing from the image');
    // The compile cache made at build time: one entry per bundle, read by the start, not written (read-only).
    const [cacheFolder] = await readdir(join(image.app, '.compile-cache'));
    const entries = await readdir(join(image.app, '.compile-cache', cacheFolder as string));
    assert.equal(entries.length, 2, `the compile cache holds ${entries.join(', ')}`);
    assert.equal(image.env.NODE_COMPILE_CACHE_PORTABLE, '1', 'a cache keyed by absolute paths misses once /app moves');
    const owner = (await run('ps', ['-o', 'uid=', '-p', String(server.child.pid)])).stdout.trim();
    assert.equal(owner, String(uid), 'the service did not run as the image user');
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
    // What the web pods' init container runs, from the same files, user and read-only root.
    const exported = await run(
      'setpriv',
      [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', node, 'service/dist/data.js', 'export', '-'],
      { cwd: image.app, env: { PATH: process.env.PATH ?? '', ...image.env, ...mysqlEnv(database) } },
    );
    assert.match(exported.stdout, /^\{"format":"two-tier-data","version":1,"engine":"mysql",/);
    assert.equal(exported.stderr.trim(), 'exported 0 messages and 0 documents from mysql to standard output');
  } finally {
    server.kill();
    await dropMysqlDatabase(database);
  }
});
