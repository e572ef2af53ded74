import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { StoreUnavailableError } from '../stores/store';

const StatusSchema = Type.Object({
  status: Type.String(),
  engine: Type.Optional(Type.String()),
  reason: Type.Optional(Type.String({ description: 'What is wrong with the database, in words' })),
  action: Type.Optional(Type.String({ description: 'What to do about it, when waiting is not enough' })),
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
      const { readiness } = app;
      if (readiness.draining) return reply.code(503).send({ status: 'draining', engine });
      if (!readiness.connected) {
        const { failure } = readiness;
        return reply
          .code(503)
          .send({ status: 'connecting to the database', engine, reason: failure?.message, action: failure?.action });
      }
      try {
        await readiness.check();
        return { status: 'ready', engine };
      } catch (error) {
        const action = error instanceof StoreUnavailableError ? error.action : undefined;
        return reply
          .code(503)
          .send({ status: 'database unavailable', engine, reason: (error as Error).message, action });
      }
    },
  );

  app.get('/docs/json', { schema: { hide: true } }, async () => app.swagger());
};
