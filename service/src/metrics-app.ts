import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export interface MetricsAppOptions {
  /** The web tier's registry (`app.metrics.registry`). */
  registry: Registry;
  /** The web tier's logger, so both listeners log to one stream; none for silence. */
  logger?: FastifyBaseLogger;
}

/**
 * GET /metrics on a listener of its own (METRICS_PORT): the Service and the load balancer expose only
 * the web port, and the NetworkPolicy lets the cluster's pods alone reach this one.
 */
export async function buildMetricsApp({ registry, logger }: MetricsAppOptions): Promise<FastifyInstance> {
  const app = Fastify(logger ? { loggerInstance: logger.child({ listener: 'metrics' }) } : { logger: false });
  app.get('/metrics', async (_request, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
  await app.ready();
  return app;
}
