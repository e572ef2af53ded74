import fp from 'fastify-plugin';
import { Gauge } from 'prom-client';
import type { Store } from '../stores/store';
import { IdempotencyConflictError, StoreUnavailableError } from '../stores/store';
import { BusyError, badRequest } from './errors';

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
  /** Why the database last failed, until it answers again. */
  failure?: StoreUnavailableError;
  /** Asks the database whether it answers, within the store's readiness budget. */
  check(): Promise<void>;
}

export interface RetryOptions {
  /** Wait after the first failed attempt; it doubles up to `maxDelayMs`. */
  initialDelayMs: number;
  maxDelayMs: number;
}

export interface SweepOptions {
  /** How often expired idempotency keys are purged, from the first connection on. */
  everyMs: number;
  /** At most this many per sweep, so one sweep never holds the database for long. */
  batch: number;
}

export interface StorePluginOptions {
  store: Store;
  retry?: RetryOptions;
  sweep?: SweepOptions;
  /** Pages read at once in this process (each may hold a few MiB); more wait for a turn. */
  pageReads?: number;
  /** Page reads that may wait for a turn (they hold no page yet); past that a 503. */
  pageReadsWaiting?: number;
}

/** Pages read at once per process: with pages of at most 1 MiB, a few tens of MiB of a 160 MiB heap. */
export const PAGE_READS = 8;
/** Readers waiting for a turn: a burst of kept-alive connections is served in turn, not refused. */
export const PAGE_READS_WAITING = 32;
/** How long a reader waits for its turn, as for a pooled connection: the request's deadline still holds. */
export const PAGE_READ_WAIT_MS = 1_000;

const DEFAULT_RETRY: RetryOptions = { initialDelayMs: 250, maxDelayMs: 5_000 };
const DEFAULT_SWEEP: SweepOptions = { everyMs: 60_000, batch: 1_000 };

type Operation = 'addMessage' | 'listMessages' | 'addDocument' | 'listDocuments';
const OPERATIONS: Operation[] = ['addMessage', 'listMessages', 'addDocument', 'listDocuments'];

/**
 * Owns the store's life and readiness: the service listens at once and connects in the background
 * with bounded backoff; a failing database is logged once per change of cause, and once when it is back.
 */
export const storePlugin = fp<StorePluginOptions>(
  async (
    app,
    {
      store,
      retry = DEFAULT_RETRY,
      sweep = DEFAULT_SWEEP,
      pageReads = PAGE_READS,
      pageReadsWaiting = PAGE_READS_WAITING,
    },
  ) => {
    const stopped = new AbortController();

    function failed(error: unknown): StoreUnavailableError {
      const failure = new StoreUnavailableError(store.classify(error), store.user, { cause: error });
      if (readiness.failure?.message !== failure.message) {
        const { message: reason, action, user } = failure;
        app.log.warn({ engine: store.engine, reason, user, action, cause: describe(error) }, 'database failing');
      }
      readiness.failure = failure;
      return failure;
    }

    function answered(): void {
      if (!readiness.failure || !readiness.connected) return;
      readiness.failure = undefined;
      app.log.info({ engine: store.engine }, 'database answering again');
    }

    async function guard<T>(work: () => Promise<T>, operation?: Operation): Promise<T> {
      try {
        const result = await work();
        answered();
        return result;
      } catch (error) {
        if (error instanceof IdempotencyConflictError) throw error;
        // The request's data, not the database: the client's error, not counted, the database still ready.
        const refusal = store.refusal(error);
        if (refusal) throw badRequest(refusal, 'DATA_REFUSED');
        if (operation) app.metrics.storeErrors.inc({ operation });
        throw failed(error);
      }
    }

    const readiness: Readiness = {
      connected: false,
      draining: false,
      check: () => guard(() => store.ping()),
    };

    let reading = 0;
    const waiting: Array<() => void> = [];
    async function turn(): Promise<void> {
      if (reading < pageReads) {
        reading++;
        return;
      }
      if (waiting.length >= pageReadsWaiting) {
        throw new BusyError(
          `${pageReads} page reads are under way in this process and ${pageReadsWaiting} waiting, its most; retry shortly`,
        );
      }
      // The finishing reader hands its turn over: `reading` stays as it is.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(handOver), 1);
          reject(new BusyError(`no page read finished within ${PAGE_READ_WAIT_MS} ms in this process; retry shortly`));
        }, PAGE_READ_WAIT_MS);
        const handOver = () => {
          clearTimeout(timer);
          resolve();
        };
        waiting.push(handOver);
      });
    }
    function done(): void {
      const next = waiting.shift();
      if (next) next();
      else reading--;
    }
    const guarded = Object.create(store) as Store;
    for (const operation of OPERATIONS) {
      const original = store[operation].bind(store) as (...args: unknown[]) => Promise<unknown>;
      const isPageRead = operation === 'listMessages' || operation === 'listDocuments';
      guarded[operation] = (async (...args: unknown[]) => {
        if (!readiness.connected) throw readiness.failure ?? new StoreUnavailableError();
        if (!isPageRead) return guard(() => original(...args), operation);
        await turn();
        try {
          return await guard(() => original(...args), operation);
        } finally {
          done();
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

    let sweeper: NodeJS.Timeout | undefined;
    async function purgeExpiredKeys(): Promise<void> {
      try {
        const purged = await store.purgeExpiredKeys(new Date(), sweep.batch);
        if (purged > 0) app.log.debug({ purged }, 'expired idempotency keys purged');
      } catch (error) {
        // A failing database shows in the requests' answers and /ready; the next sweep catches up.
        app.log.debug({ reason: describe(error) }, 'expired idempotency keys not purged');
      }
    }

    async function connectWithRetry(): Promise<void> {
      let delay = retry.initialDelayMs;
      for (let attempt = 1; !stopped.signal.aborted; attempt++) {
        try {
          await store.connect();
          readiness.connected = true;
          readiness.failure = undefined;
          app.log.info({ engine: store.engine, attempt }, 'database connected');
          void purgeExpiredKeys();
          sweeper = setInterval(purgeExpiredKeys, sweep.everyMs).unref();
          return;
        } catch (error) {
          if (stopped.signal.aborted) return;
          const { message } = failed(error);
          app.log.warn(
            { engine: store.engine, attempt, retryInMs: delay, reason: message },
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
    app.addHook('onClose', async () => {
      stopped.abort();
      clearInterval(sweeper);
      await store.close();
    });
  },
  { name: 'store', dependencies: ['metrics'] },
);

/** The driver's own words and code, without a stack: the cause is logged once, not per request. */
function describe(error: unknown): string {
  const { message, code } = error as { message?: string; code?: unknown };
  return code === undefined ? String(message) : `${message} (${code})`;
}

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
