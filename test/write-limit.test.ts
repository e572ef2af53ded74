import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { LOAD_BALANCER_SUBNETS } from '../infra/eks/network';
import { buildApp } from '../service/src/app';
import { loadConfig } from '../service/src/config';
import { MemoryStore } from '../service/src/stores/memory';
import { assertClientError, waitFor } from './support/app';
import { responseSchemas } from './support/openapi';

/** The memory store, counting the reads of the message list (the page makes one to show the board). */
class CountingStore extends MemoryStore {
  listed = 0;
  override listMessages(...args: Parameters<MemoryStore['listMessages']>) {
    this.listed++;
    return super.listMessages(...args);
  }
}

async function limitedApp(env: Record<string, string>): Promise<{ app: FastifyInstance; store: CountingStore }> {
  const store = new CountingStore();
  const app = await buildApp({ config: loadConfig(env), store, logger: false });
  await waitFor(async () => (await app.inject('/ready')).statusCode === 200, 'the app to become ready');
  return { app, store };
}

const json = { 'content-type': 'application/json', accept: 'application/json' };
/** One write to each endpoint, as a client of the API and a person with the form would send it. */
const WRITES: Record<string, InjectOptions> = {
  '/messages': { method: 'POST', url: '/messages', headers: json, payload: { message: 'hello' } },
  '/data': { method: 'POST', url: '/data', headers: json, payload: { kind: 'note' } },
  '/submit': {
    method: 'POST',
    url: '/submit',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
    payload: 'new_message=hello',
  },
};

describe('the write limit: 3 writes per 60 s per client', () => {
  let app: FastifyInstance;
  let store: CountingStore;
  before(async () => {
    ({ app, store } = await limitedApp({ RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_SECONDS: '60' }));
  });
  after(() => app.close());

  const from = (remoteAddress: string, write: InjectOptions) => app.inject({ ...write, remoteAddress });
  const stored = async () => ({
    messages: (await store.listMessages({ limit: 500 })).items.length,
    documents: (await store.listDocuments({ limit: 500 })).items.length,
  });

  test('a burst is refused past the limit with 429 and Retry-After, across the three endpoints, storing nothing', async () => {
    const client = '198.51.100.7';
    const accepted = await Promise.all(Object.values(WRITES).map((write) => from(client, write)));
    assert.deepEqual(
      accepted.map((r) => r.statusCode),
      [201, 201, 303],
    );
    assert.equal(accepted[0]?.headers['x-ratelimit-remaining'], '2');
    const before = await stored();
    for (const [path, write] of Object.entries(WRITES)) {
      for (let attempt = 0; attempt < 5; attempt++) {
        const refused = await from(client, { ...write, headers: { ...write.headers, accept: 'application/json' } });
        assertClientError(
          refused,
          429,
          /^too many writes: at most 3 writes .* per 60 s from one client address \(as the load balancer reports it\), counted in each pod; retry in \d+ s$/,
        );
        const retryAfter = Number(refused.headers['retry-after']);
        assert.ok(retryAfter >= 1 && retryAfter <= 60, `${path}: Retry-After ${refused.headers['retry-after']}`);
        assert.equal(refused.headers['x-ratelimit-remaining'], '0');
      }
    }
    assert.deepEqual(await stored(), before, 'a refused write stored something');
  });

  test('a person over the limit gets the page with the reason and the draft kept, and the database is not read', async () => {
    const client = '198.51.100.8';
    for (let i = 0; i < 3; i++) assert.equal((await from(client, WRITES['/submit'] as InjectOptions)).statusCode, 303);
    const reads = store.listed;
    const page = await from(client, { ...WRITES['/submit'], payload: 'new_message=one+too+many' });
    assert.equal(page.statusCode, 429);
    assert.match(page.headers['content-type'] as string, /^text\/html/);
    assert.ok(Number(page.headers['retry-after']) > 0, 'the page carries Retry-After');
    assert.match(page.body, /Too many writes: at most 3 writes/);
    assert.match(page.body, />one too many<\/textarea>/);
    assert.equal(store.listed, reads, 'a refused post read the database');
  });

  test('clients are counted apart by their address, and reads are never limited', async () => {
    for (let i = 0; i < 4; i++) await from('198.51.100.9', WRITES['/messages'] as InjectOptions);
    assert.equal((await from('198.51.100.9', WRITES['/messages'] as InjectOptions)).statusCode, 429);
    assert.equal((await from('198.51.100.10', WRITES['/messages'] as InjectOptions)).statusCode, 201);
    for (let i = 0; i < 10; i++) {
      assert.equal((await from('198.51.100.9', { url: '/messages' })).statusCode, 200, 'a read was limited');
    }
  });

  test("a client's own X-Forwarded-For is not believed without a trusted proxy", async () => {
    const spoofing = (i: number) =>
      from('198.51.100.11', { ...WRITES['/messages'], headers: { ...json, 'x-forwarded-for': `203.0.113.${i}` } });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await spoofing(i)).statusCode);
    assert.deepEqual(statuses, [201, 201, 201, 429, 429]);
  });

  test('the OpenAPI document gives each write its limit and a 429 with Retry-After', async () => {
    const document = app.swagger() as {
      info: { description: string };
      paths: Record<string, { post: { description: string; responses: Record<string, { headers?: object }> } }>;
    };
    assert.match(
      document.info.description,
      /writes: 3 per 60 s per pod, per client address as the load balancer reports it; on eks only the ALB's subnets are trusted/,
    );
    for (const path of Object.keys(WRITES)) {
      const post = document.paths[path]?.post;
      assert.match(
        post?.description ?? '',
        /at most 3 writes .* per 60 s from one client address \(as the load balancer reports it\), counted in each pod/,
        path,
      );
      assert.ok(post?.responses['429']?.headers && 'retry-after' in post.responses['429'].headers, path);
    }
    const refused = await from('198.51.100.7', WRITES['/data'] as InjectOptions);
    const validate = responseSchemas(document)('/data', 'POST', 429);
    assert.ok(validate(refused.json()), JSON.stringify(validate.errors));
  });
});

test('behind a trusted proxy, clients are counted by the address it appends to X-Forwarded-For', async () => {
  const { app } = await limitedApp({ RATE_LIMIT_MAX: '1', TRUSTED_PROXIES: '10.42.0.0/16' });
  try {
    const through = (forwardedFor: string) =>
      app.inject({
        ...WRITES['/messages'],
        remoteAddress: '10.42.7.1',
        headers: { ...json, 'x-forwarded-for': forwardedFor },
      });
    assert.equal((await through('203.0.113.1')).statusCode, 201);
    assert.equal((await through('203.0.113.2')).statusCode, 201, 'another client behind the proxy was refused');
    assert.equal((await through('203.0.113.1')).statusCode, 429);
    // A client that sends its own header gets the proxy's entry appended after it; the entry the proxy added counts.
    assert.equal((await through('10.42.9.9, 203.0.113.1')).statusCode, 429, 'a forged entry escaped the limit');
  } finally {
    await app.close();
  }
});

test("on eks only the ALB's subnets are trusted: a pod that calls a web pod directly with a forged X-Forwarded-For is counted under its own address", async () => {
  const { app } = await limitedApp({ RATE_LIMIT_MAX: '1', TRUSTED_PROXIES: LOAD_BALANCER_SUBNETS.join(',') });
  try {
    const write = (remoteAddress: string, forwardedFor: string) =>
      app.inject({ ...WRITES['/messages'], remoteAddress, headers: { ...json, 'x-forwarded-for': forwardedFor } });
    // The test client (127.0.0.1) and a pod of the nodes' subnets: neither is the ALB, so neither names the client.
    for (const pod of ['127.0.0.1', '10.42.5.17']) {
      assert.equal((await write(pod, '203.0.113.1')).statusCode, 201);
      assert.equal((await write(pod, '203.0.113.2')).statusCode, 429, `${pod}: a forged header gave a fresh limit`);
    }
    // The ALB's hop: the address it appends is the client, counted apart from the pods above.
    const alb = '10.42.32.10';
    assert.equal((await write(alb, '203.0.113.1')).statusCode, 201, 'the forged address was charged for the pod');
    assert.equal((await write(alb, '203.0.113.1')).statusCode, 429);
    assert.equal((await write('10.42.33.20', '203.0.113.2')).statusCode, 201, 'another client through the ALB');
  } finally {
    await app.close();
  }
});

test('when the window has passed, the client may write again', async () => {
  const { app } = await limitedApp({ RATE_LIMIT_MAX: '1', RATE_LIMIT_WINDOW_SECONDS: '1' });
  try {
    assert.equal((await app.inject(WRITES['/messages'] as InjectOptions)).statusCode, 201);
    const refused = await app.inject(WRITES['/messages'] as InjectOptions);
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.headers['retry-after'], '1');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    assert.equal((await app.inject(WRITES['/messages'] as InjectOptions)).statusCode, 201);
  } finally {
    await app.close();
  }
});
