import fp from 'fastify-plugin';
import { Gauge } from 'prom-client';
import type { Store } from '../stores/store';
import { StoreUnavailableError } from '../stores/store';

declare module 'fastify' {
  interface FastifyInstance {
    /** The database, as the routes see it: failures arrive as `StoreUnavailableError`. */
    store: Store;
    readiness: Readiness;
  }
}

export interface Readiness {
  /** The first connection succeeded and the schema exists. */
  connected: boolean;
  /** The process is shutting down: no new work should be sent here. */
  draining: boolean;
}

export interface RetryOptions {
  /** Wait after the first failed attempt; it doubles up to `maxDelayMs`. */
  initialDelayMs: number;
  maxDelayMs: number;
}

export interface StorePluginOptions {
  store: Store;
  retry?: RetryOptions;
}

const DEFAULT_RETRY: RetryOptions = { initialDelayMs: 250, maxDelayMs: 5_000 };

type Operation = 'addMessage' | 'listMessages' | 'addDocument' | 'listDocuments';
const OPERATIONS: Operation[] = ['addMessage', 'listMessages', 'addDocument', 'listDocuments'];

/**
 * Owns the store's life: the service listens at once and connects in the background with bounded
 * backoff, so /health answers while the database is still starting and /ready only once it answers.
 */
export const storePlugin = fp<StorePluginOptions>(
  async (app, { store, retry = DEFAULT_RETRY }) => {
    const readiness: Readiness = { connected: false, draining: false };
    const stopped = new AbortController();

    const guarded = Object.create(store) as Store;
    for (const operation of OPERATIONS) {
      const original = store[operation].bind(store) as (...args: unknown[]) => Promise<unknown>;
      guarded[operation] = (async (...args: unknown[]) => {
        if (!readiness.connected) throw new StoreUnavailableError();
        try {
          return await original(...args);
        } catch (error) {
          app.metrics.storeErrors.inc({ operation });
          throw new StoreUnavailableError({ cause: error });
        }
      }) as never;
    }

    new Gauge({
      name: 'store_pool_connections',
      help: 'Database connections by state (open, idle) and operations queued for one',
      labelNames: ['state'] as const,
      registers: [app.metrics.registry],
      collect() {
        const stats = store.stats();
        this.set({ state: 'open' }, stats.open);
        this.set({ state: 'idle' }, stats.idle);
        this.set({ state: 'queued' }, stats.queued);
      },
    });

    async function connectWithRetry(): Promise<void> {
      let delay = retry.initialDelayMs;
      for (let attempt = 1; !stopped.signal.aborted; attempt++) {
        try {
          await store.connect();
          readiness.connected = true;
          app.log.info({ engine: store.engine, attempt }, 'database connected');
          return;
        } catch (error) {
          if (stopped.signal.aborted) return;
          app.log.warn(
            { engine: store.engine, attempt, retryInMs: delay, reason: (error as Error).message },
            'database not reachable yet; retrying',
          );
          await sleep(delay, stopped.signal);
          delay = Math.min(delay * 2, retry.maxDelayMs);
        }
      }
    }

    app.decorate('store', guarded);
    app.decorate('readiness', readiness);
    if (store.engine === 'memory') {
      app.log.warn('DB_ENGINE=memory: messages and documents are kept in this process and will not survive a restart');
    }
    app.addHook('onReady', async () => {
      void connectWithRetry();
    });
    app.addHook('preClose', async () => {
      readiness.draining = true;
    });
    // A response sent while draining closes its connection, so keep-alive clients reconnect elsewhere
    // and the server's close is not held up by idle connections until their keep-alive timeout.
    app.addHook('onSend', async (_request, reply) => {
      if (readiness.draining) reply.header('connection', 'close');
    });
    app.addHook('onClose', async () => {
      stopped.abort();
      await store.close();
    });
  },
  { name: 'store', dependencies: ['metrics'] },
);

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
