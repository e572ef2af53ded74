import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

const StatusSchema = Type.Object({
  status: Type.String(),
  engine: Type.Optional(Type.String()),
});

export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/health',
    {
      schema: {
        summary: 'Liveness: the process answers; the database is not consulted',
        tags: ['operations'],
        response: { 200: StatusSchema },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/ready',
    {
      schema: {
        summary: 'Readiness: 200 when the database answers, 503 while it does not or while draining',
        tags: ['operations'],
        response: { 200: StatusSchema, 503: StatusSchema },
      },
    },
    async (_request, reply) => {
      const { engine } = app.store;
      if (app.readiness.draining) return reply.code(503).send({ status: 'draining', engine });
      if (!app.readiness.connected) return reply.code(503).send({ status: 'connecting to the database', engine });
      try {
        await app.store.ping();
        return { status: 'ready', engine };
      } catch {
        return reply.code(503).send({ status: 'database unavailable', engine });
      }
    },
  );

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.type(app.metrics.registry.contentType);
    return app.metrics.registry.metrics();
  });

  app.get('/docs/json', { schema: { hide: true } }, async () => app.swagger());
};
