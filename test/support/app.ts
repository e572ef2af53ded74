import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../service/src/app';
import { loadConfig } from '../../service/src/config';
import { buildMetricsApp } from '../../service/src/metrics-app';
import { readinessDetail } from '../../service/src/routes/health';
import { UNTHROTTLED } from './server-process';
import { type Engine, type StoreFixture, storeFixtures } from './stores';

export interface TestApp {
  app: FastifyInstance;
  fixture: StoreFixture;
  close(): Promise<void>;
}

/** The real app on a fresh database of the given engine, connected and ready; `env` adds to its config. */
export async function startApp(engine: Engine, env: Record<string, string> = {}): Promise<TestApp> {
  const fixture = await storeFixtures[engine]();
  const app = await buildApp({
    config: loadConfig({ DB_ENGINE: engine, ...UNTHROTTLED, ...env }),
    store: fixture.store,
    logger: false,
    retry: { initialDelayMs: 20, maxDelayMs: 200 },
  });
  await waitFor(async () => (await app.inject('/ready')).statusCode === 200, 'the app to become ready');
  return {
    app,
    fixture,
    async close() {
      await app.close();
      await fixture.drop();
    },
  };
}

export async function waitFor(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A 4xx with the contract's JSON error shape and, when given, a message matching `pattern`. */
export function assertClientError(response: LightMyRequestResponse, statusCode: number, pattern?: RegExp): void {
  assert.equal(response.statusCode, statusCode, `expected ${statusCode}, got ${response.statusCode}: ${response.body}`);
  const body = response.json();
  assert.deepEqual(Object.keys(body).sort(), ['error', 'message', 'statusCode']);
  assert.equal(body.statusCode, statusCode);
  if (pattern) assert.match(body.message, pattern);
}

/** What a Prometheus scrape of the app's metrics listener returns. */
export async function scrape(app: FastifyInstance): Promise<string> {
  const metrics = await buildMetricsApp({ registry: app.metrics.registry });
  try {
    const response = await metrics.inject('/metrics');
    assert.equal(response.statusCode, 200, `the scrape failed: ${response.body}`);
    return response.body;
  } finally {
    await metrics.close();
  }
}

/** GET /ready on the app's metrics listener: the status with the engine, the reason and the action. */
export async function clusterReadiness(app: FastifyInstance): Promise<LightMyRequestResponse> {
  const metrics = await buildMetricsApp({ registry: app.metrics.registry, readiness: () => readinessDetail(app) });
  try {
    return await metrics.inject('/ready');
  } finally {
    await metrics.close();
  }
}

export const JSON_BODY = { 'content-type': 'application/json' };

/** A POST through `app.inject`: an object is sent as JSON, a string as it is. */
export function post(
  app: FastifyInstance,
  url: string,
  payload: unknown,
  headers: Record<string, string> = JSON_BODY,
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url,
    headers,
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
}

/**
 * Inside a `describe`: the real app on `engine`, started before its tests and closed after them, and a
 * POST to it; `app` is the running one once the tests run.
 */
export function appForSuite(engine: Engine): {
  readonly app: FastifyInstance;
  post(url: string, payload: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
} {
  let running: TestApp | undefined;
  before(async () => {
    running = await startApp(engine);
  });
  after(() => running?.close());
  const app = () => {
    assert.ok(running, 'the app is used outside its tests');
    return running.app;
  };
  return {
    get app() {
      return app();
    },
    post: (url, payload, headers) => post(app(), url, payload, headers),
  };
}
