import rateLimit from '@fastify/rate-limit';
import type { preValidationHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { errorResponse } from '../schemas';

declare module 'fastify' {
  interface FastifyInstance {
    /** The limit on writes per client, shared by every write route. */
    writeLimit: WriteLimit;
  }
}

export interface WriteLimitOptions {
  /** Writes one client may make per window. */
  max: number;
  windowSeconds: number;
}

export interface WriteLimit {
  /**
   * The write routes' hook before validation: a client over the limit gets a 429 whatever it sent, and the
   * page can still keep the text a person typed.
   */
  preValidation: preValidationHookHandler;
  /** The limit in words, for the routes' descriptions in the OpenAPI document. */
  description: string;
  /** The 429 answer, for the routes' response schemas. */
  responses: { 429: ReturnType<typeof errorResponse> };
}

/**
 * A fixed window per client address (an IPv6 client by its /64), counted in this process: with N
 * replicas behind the load balancer a client may make up to N times the limit. The address is the
 * TCP peer's, or the client that a proxy in TRUSTED_PROXIES names in X-Forwarded-For.
 */
export const writeLimitPlugin = fp<WriteLimitOptions>(
  async (app, { max, windowSeconds }) => {
    const description = `at most ${max} writes (POST /messages, /submit and /data together) per ${windowSeconds} s from one client address (as the load balancer reports it), counted in each pod`;
    await app.register(rateLimit, {
      global: false,
      max,
      timeWindow: windowSeconds * 1000,
      errorResponseBuilder: (_request, { statusCode, ttl }) =>
        Object.assign(new Error(`too many writes: ${description}; retry in ${Math.ceil(ttl / 1000)} s`), {
          statusCode,
        }),
    });
    const seconds = (what: string) => Type.Integer({ minimum: 0, description: what });
    app.decorate('writeLimit', {
      // One handler for every write route, so they share one count per client.
      preValidation: app.rateLimit(),
      description: `Limited to ${description}.`,
      responses: {
        429: errorResponse(`Too many writes: ${description}; nothing was written`, {
          'retry-after': seconds('Seconds until this client may write again'),
          'x-ratelimit-limit': Type.Integer({ description: 'Writes allowed per window' }),
          'x-ratelimit-remaining': Type.Integer({ description: 'Writes left in this window' }),
          'x-ratelimit-reset': seconds('Seconds until the window starts again'),
        }),
      },
    });
  },
  { name: 'write-limit' },
);
