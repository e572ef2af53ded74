import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance } from 'fastify';
import { StoreUnavailableError } from '../stores/store';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

/** Client errors keep their message; a database outage is a 503 that says so; any other 5xx says nothing more. */
export function errorBody(error: FastifyError | Error): ErrorBody {
  if (error instanceof StoreUnavailableError) return body(503, error.message);
  const statusCode = (error as FastifyError).statusCode ?? 500;
  return statusCode >= 500 ? body(500, 'Internal Server Error') : body(statusCode, error.message);
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const payload = errorBody(error);
    if (payload.statusCode >= 500) request.log.error({ err: error }, 'request failed');
    return reply.code(payload.statusCode).type('application/json; charset=utf-8').send(payload);
  });
}

function body(statusCode: number, message: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

/** A 400 whose message the client sees as is. */
export function badRequest(message: string): FastifyError {
  return Object.assign(new Error(message), { statusCode: 400, code: 'BAD_REQUEST', name: 'BadRequestError' });
}
