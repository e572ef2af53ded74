import { join } from 'node:path';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Ajv from 'ajv';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import { type Config, trustedProxies } from './config';
import { logOutput } from './log-output';
import { drainingPlugin } from './plugins/draining';
import { errorsPlugin } from './plugins/errors';
import { metricsPlugin } from './plugins/metrics';
import { writeLimitPlugin } from './plugins/rate-limit';
import { PAGE_READS, PAGE_READS_WAITING, type RetryOptions, type SweepOptions, storePlugin } from './plugins/store';
import { boardRoutes } from './routes/board';
import { dataRoutes } from './routes/data';
import { healthRoutes } from './routes/health';
import { messageRoutes } from './routes/messages';
import { JsonValueSchema, MAX_BODY_KIB } from './schemas';
import { createStore } from './stores';
import { PAGE_BYTES, type Store } from './stores/store';
import { bodyValidator } from './validation';

export interface AppOptions {
  config: Config;
  /** The store to use instead of the one `config` names (tests hand in their own). */
  store?: Store;
  /** Pino options; `false` for silence. Defaults to `LOG_LEVEL` on stdout (see log-output.ts). */
  logger?: FastifyServerOptions['logger'];
  /** Backoff of the background connection to the database. */
  retry?: RetryOptions;
  /** The purge of expired idempotency keys. */
  sweep?: SweepOptions;
  /** How long a client may take; tests shorten them. */
  timeouts?: ConnectionTimeouts;
}

export interface ConnectionTimeouts {
  /** To send the request's headers. */
  headersMs: number;
  /** To send the whole request, headers and body. */
  requestMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveMs: number;
  /** A connection on which nothing moves (a client that does not read its answer) is closed after this. */
  idleMs: number;
  /** How often the header and request deadlines are checked; Node's 30 s default would let them run late by as much. */
  checkEveryMs: number;
}

/** The Classic ELB's idle timeout: AWS's default, which the program does not change. */
export const LOAD_BALANCER_IDLE_MS = 60_000;

export const CONNECTION_TIMEOUTS: ConnectionTimeouts = {
  headersMs: 10_000,
  // A body is at most 64 KiB: 30 s is a client below 20 kbit/s.
  requestMs: 30_000,
  // Longer than the load balancer's: it closes idle connections first, so it never reuses one the pod has closed (a 502).
  keepAliveMs: LOAD_BALANCER_IDLE_MS + 5_000,
  idleMs: LOAD_BALANCER_IDLE_MS + 10_000,
  checkEveryMs: 1_000,
};

const BODY_LIMIT = MAX_BODY_KIB * 1024;
/** service/public, from src/ under tsx and from dist/ compiled or bundled: this file sits one level down in each. */
const PUBLIC_ROOT = join(__dirname, '..', 'public');

/**
 * Bodies are validated as sent (see `bodyValidator`); query strings and params are text, so `?limit=10` is
 * coerced to a number. Defaults fill in what was left out.
 */
const textValidator = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: true, allErrors: false });

/**
 * Successful reads are logged one in this many at `info`, the line saying so (`sampled`); their count
 * and latency are in the metrics whole. Writes and every error are logged each time.
 */
export const READ_LOG_SAMPLE = 10;

/**
 * One log line per request when it completes: `info`, or `warn` for a 5xx (an outage's cause is logged
 * once by the store, a bug's stack by the error handler), successful reads sampled (every one at
 * LOG_LEVEL=debug); its arrival is logged at `debug`.
 */
class RequestLogController extends LogController {
  private reads = 0;

  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { method: request.method, url: request.url, statusCode: reply.statusCode, ms: reply.elapsedTime };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else if (reply.statusCode >= 500) reply.log.warn(line, 'request completed');
    else if (!isRead(request) || reply.statusCode >= 400 || EVERY_REQUEST_LEVELS.has(reply.log.level))
      reply.log.info(line, 'request completed');
    else if (this.reads++ % READ_LOG_SAMPLE === 0)
      reply.log.info({ ...line, sampled: READ_LOG_SAMPLE }, 'request completed');
  }
}

const isRead = (request: FastifyRequest) => request.method === 'GET' || request.method === 'HEAD';
/** The levels at which every request is logged. */
const EVERY_REQUEST_LEVELS = new Set(['debug', 'trace']);

/** Builds the web tier, ready to listen or to `inject()`; it never listens itself. */
export async function buildApp({
  config,
  store,
  logger,
  retry,
  sweep,
  timeouts = CONNECTION_TIMEOUTS,
}: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: logger ?? {
      level: config.LOG_LEVEL,
      redact: ['req.headers.authorization', 'req.headers.cookie'],
      stream: await logOutput(),
    },
    logController: new RequestLogController(),
    bodyLimit: BODY_LIMIT,
    // A client that trickles its headers or body is answered 408 and let go, not held with its buffers.
    http: { headersTimeout: timeouts.headersMs, connectionsCheckingInterval: timeouts.checkEveryMs },
    requestTimeout: timeouts.requestMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    connectionTimeout: timeouts.idleMs,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // request.ip, the write limit's key: the TCP peer, or the client a trusted proxy names in X-Forwarded-For.
    trustProxy: trustedProxies(config).join(',') || false,
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(swagger, {
    openapi: {
      // 3.1: its schemas are JSON Schema, so the document can say which keys a document may have.
      openapi: '3.1.0',
      info: {
        title: 'two-tier web tier',
        description: [
          'Messages and JSON documents over MySQL, MongoDB or memory.',
          '',
          'Limits, each per pod (per process), not per client across the service:',
          `- a page stops at ${PAGE_BYTES / 2 ** 20} MiB of JSON (or at \`limit\`), and the database is read for no more than that and one item; \`Link: rel="next"\` leads on;`,
          `- at most ${PAGE_READS} page reads at once, ${PAGE_READS_WAITING} more waiting their turn; more are a 503 with Retry-After;`,
          `- writes: ${config.RATE_LIMIT_MAX} per ${config.RATE_LIMIT_WINDOW_SECONDS} s per pod, per client address as the load balancer reports it; on eks only the ALB's subnets are trusted (X-Forwarded-For is believed from TRUSTED_PROXIES only, else the TCP peer counts), so a client spread over N pods may make N times that;`,
          `- a request's headers must arrive within ${timeouts.headersMs / 1000} s and the whole request within ${timeouts.requestMs / 1000} s (else 408); an idle keep-alive connection is closed after ${timeouts.keepAliveMs / 1000} s;`,
          "- browsers may post only from this service's own page: a cross-site post (Sec-Fetch-Site, or a foreign Origin) is a 403.",
        ].join('\n'),
        version: '0.1.0',
      },
    },
  });
  // Response bodies are built field by field where they are made (the stores' row mappers, the routes),
  // so V8's JSON.stringify writes them: on a page of 50 messages it took a third of the CPU and a fifth
  // of the allocations of the schema-compiled serializer. The response schemas still type the routes
  // and document them; test/routes.test.ts holds every answer to its schema, field for field.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? bodyValidator : textValidator).compile(schema),
  );
  // Only JSON (and, for the form, urlencoded) bodies are understood; anything else is a 415.
  app.removeContentTypeParser('text/plain');
  // For the document; the body validator has it already.
  app.addSchema(JsonValueSchema);
  await app.register(errorsPlugin);
  await app.register(metricsPlugin);
  await app.register(storePlugin, { store: store ?? (await createStore(config)), retry, sweep });
  await app.register(drainingPlugin);
  await app.register(writeLimitPlugin, { max: config.RATE_LIMIT_MAX, windowSeconds: config.RATE_LIMIT_WINDOW_SECONDS });
  await app.register(healthRoutes);
  await app.register(messageRoutes);
  await app.register(dataRoutes);
  await app.register(boardRoutes, { publicRoot: PUBLIC_ROOT });
  await app.ready();
  return app;
}
