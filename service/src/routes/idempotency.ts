import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { type IdempotencyKey, RESERVED_KEY_PREFIX } from '../stores/store';

export const IdempotencyHeadersSchema = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      pattern: `^(?!${RESERVED_KEY_PREFIX})[\\x21-\\x7e]+$`,
      description: `Any unique printable string not starting with "${RESERVED_KEY_PREFIX}" (the service's own): a retry with the same key and body within 24 hours returns the first result and stores nothing; the same key with another body is a 422`,
    }),
  ),
});

/** The request's Idempotency-Key with a digest of what it asks for, or nothing when it has no key. */
export function idempotencyOf(request: FastifyRequest): IdempotencyKey | undefined {
  const key = request.headers['idempotency-key'];
  if (typeof key !== 'string') return undefined;
  const fingerprint = createHash('sha256')
    .update(`${request.method} ${request.routeOptions.url}\n${JSON.stringify(request.body)}`)
    .digest('hex');
  return { key, fingerprint };
}
