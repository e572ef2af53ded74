import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { StoreUnavailableError } from '../stores/store';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

/** Answers a failed request in the route's own form (the page renders its errors as the page). */
export type ErrorRenderer = (
  error: FastifyError,
  payload: ErrorBody,
  request: FastifyRequest,
  reply: FastifyReply,
) => FastifyReply | Promise<FastifyReply>;

declare module 'fastify' {
  interface FastifyContextConfig {
    renderError?: ErrorRenderer;
  }
}

/** Seconds a client should wait before retrying after a 503. */
const RETRY_AFTER_SECONDS = '2';

/** Client errors keep their message; a database outage or a full process is a 503 that says so; any other 5xx says nothing more. */
function errorBody(error: FastifyError | Error): ErrorBody {
  if (error instanceof StoreUnavailableError || error instanceof BusyError) return body(503, error.message);
  const statusCode = (error as FastifyError).statusCode ?? 500;
  return statusCode >= 500 ? body(500, 'Internal Server Error') : body(statusCode, error.message);
}

function body(statusCode: number, message: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

export function sendJsonError(payload: ErrorBody, reply: FastifyReply): FastifyReply {
  return reply.code(payload.statusCode).type('application/json; charset=utf-8').send(payload);
}

/** The process has as much of this work under way as it takes; the request may be retried shortly (a 503). */
export class BusyError extends Error {
  override name = 'BusyError';
}

/** A 400 whose message the client sees as is; `code` lets the page say it in its own words. */
export function badRequest(message: string, code = 'BAD_REQUEST'): FastifyError {
  return Object.assign(new Error(message), { statusCode: 400, code, name: 'BadRequestError' });
}

/**
 * The one error handler and the one not-found handler. An outage is already logged by the store once
 * per change of cause, and the request's own line says 503; a bug (any other 5xx) is logged with its stack.
 */
export const errorsPlugin = fp(
  async (app: FastifyInstance) => {
    const methodsByPath = new Map<string, string[]>();
    app.addHook('onRoute', ({ url, method }) => {
      const methods = methodsByPath.get(url) ?? [];
      methodsByPath.set(url, [...new Set([...methods, ...[method].flat()])].sort());
    });

    app.setErrorHandler((error: FastifyError, request, reply) => {
      const payload = errorBody(error);
      if (payload.statusCode === 503) reply.header('retry-after', RETRY_AFTER_SECONDS);
      else if (payload.statusCode >= 500) request.log.error({ err: error }, 'request failed');
      const render = request.routeOptions.config.renderError;
      return render ? render(error, payload, request, reply) : sendJsonError(payload, reply);
    });

    // A method a known path does not take is a 405 before its body is looked at (a QUERY without a
    // Content-Type would otherwise be a 400); a callback hook that returns at once for routed requests.
    app.addHook('onRequest', (request, reply, done) => {
      if (!request.is404) return done();
      const allowed = methodsByPath.get(request.url.split('?', 1)[0] as string);
      if (!allowed) return done();
      reply.header('allow', allowed.join(', '));
      sendJsonError(body(405, `${request.method} is not allowed here; use ${allowed.join(' or ')}`), reply);
    });

    app.setNotFoundHandler((request, reply) =>
      sendJsonError(body(404, `no route ${request.method} ${request.url}`), reply),
    );
  },
  { name: 'errors' },
);
