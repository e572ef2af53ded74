import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { ReadinessDetail } from './routes/health';

export interface MetricsAppOptions {
  /** The web tier's registry (`app.metrics.registry`). */
  registry: Registry;
  /** The web tier's logger, so both listeners log to one stream; none for silence. */
  logger?: FastifyBaseLogger;
  /** The web tier's readiness in full (`readinessDetail`), which its public /ready does not tell. */
  readiness?: () => Promise<{ ready: boolean; detail: ReadinessDetail }>;
}

/**
 * GET /metrics and GET /ready in full on a listener of its own (METRICS_PORT): the Service and the load
 * balancer expose only the web port, and the NetworkPolicy lets the cluster's pods alone reach this one.
 */
export async function buildMetricsApp({ registry, logger, readiness }: MetricsAppOptions): Promise<FastifyInstance> {
  const app = Fastify(logger ? { loggerInstance: logger.child({ listener: 'metrics' }) } : { logger: false });
  app.get('/metrics', async (_request, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
  if (readiness) {
    app.get('/ready', async (_request, reply) => {
      const { ready, detail } = await readiness();
      return reply.code(ready ? 200 : 503).send(detail);
    });
  }
  await app.ready();
  return app;
}
