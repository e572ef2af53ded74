import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { StoreUnavailableError } from '../stores/store';

export interface ReadinessDetail {
  status: string;
  engine: string;
  /** What is wrong with the database, in words. */
  reason?: string;
  /** The database user, when the database refused its login. */
  user?: string;
  /** What to do about it, when waiting is not enough. */
  action?: string;
}

const StatusSchema = Type.Object({
  status: Type.String({
    description:
      'ok, ready, draining, connecting to the database or database unavailable; why, and what to do, is on the metrics port (GET /ready there) and in the log',
  }),
});

/** Whether the service is ready, why not and what to do: for the cluster (the metrics port, the log), not for the internet. */
export async function readinessDetail(app: FastifyInstance): Promise<{ ready: boolean; detail: ReadinessDetail }> {
  const { engine } = app.store;
  const { readiness } = app;
  if (readiness.draining) return { ready: false, detail: { status: 'draining', engine } };
  if (!readiness.connected) {
    const { failure } = readiness;
    return {
      ready: false,
      detail: { status: 'connecting to the database', engine, ...failureDetail(failure) },
    };
  }
  try {
    await readiness.check();
    return { ready: true, detail: { status: 'ready', engine } };
  } catch (error) {
    return { ready: false, detail: { status: 'database unavailable', engine, ...failureDetail(error) } };
  }
}

function failureDetail(error: unknown): Pick<ReadinessDetail, 'reason' | 'user' | 'action'> {
  if (!(error instanceof StoreUnavailableError)) return { reason: (error as Error | undefined)?.message };
  return {
    reason: error.message,
    user: error.failure === 'credentials' ? error.user : undefined,
    action: error.action,
  };
}

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
        description:
          'The status only: the engine, the reason and what to do are on the metrics port, which only the cluster reaches, and in the log.',
        tags: ['operations'],
        response: { 200: StatusSchema, 503: StatusSchema },
      },
    },
    async (_request, reply) => {
      const { ready, detail } = await readinessDetail(app);
      return reply.code(ready ? 200 : 503).send({ status: detail.status });
    },
  );

  app.get('/docs/json', { schema: { hide: true } }, async () => app.swagger());
};
