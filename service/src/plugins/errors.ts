import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { StoreUnavailableError } from '../stores/store';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

/** Client errors keep their message; a database outage is a 503 that says so; any other 5xx says nothing more. */
function errorBody(error: FastifyError | Error): ErrorBody {
  if (error instanceof StoreUnavailableError) return body(503, error.message);
  const statusCode = (error as FastifyError).statusCode ?? 500;
  return statusCode >= 500 ? body(500, 'Internal Server Error') : body(statusCode, error.message);
}

/** The error's body, with the failure logged when it is the server's (5xx). */
export function reportError(error: FastifyError | Error, request: FastifyRequest): ErrorBody {
  const payload = errorBody(error);
  if (payload.statusCode >= 500) request.log.error({ err: error }, 'request failed');
  return payload;
}

export function sendError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const payload = reportError(error, request);
  return reply.code(payload.statusCode).type('application/json; charset=utf-8').send(payload);
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler(sendError);
}

function body(statusCode: number, message: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

/** A 400 whose message the client sees as is. */
export function badRequest(message: string): FastifyError {
  return Object.assign(new Error(message), { statusCode: 400, code: 'BAD_REQUEST', name: 'BadRequestError' });
}
