import type { FastifyInstance, FastifyReply } from 'fastify';
import { badRequest } from '../plugins/errors';
import type { PageQuery } from '../schemas';
import type { Page } from '../stores/store';

/**
 * Lists one page newest first and, when older items exist, links to them the way GitHub's API does:
 * `Link: </messages?limit=50&before=41>; rel="next"`.
 */
export async function listPage<T extends { id: string }>(
  app: FastifyInstance,
  reply: FastifyReply,
  path: string,
  query: PageQuery,
  list: (query: PageQuery) => Promise<Page<T>>,
): Promise<T[]> {
  if (query.before !== undefined && !app.store.isValidId(query.before)) {
    throw badRequest('before must be an id from this list (use the Link header of the previous page)');
  }
  const page = await list(query);
  const last = page.items.at(-1);
  if (page.hasMore && last) {
    reply.header('link', `<${path}?limit=${query.limit}&before=${encodeURIComponent(last.id)}>; rel="next"`);
  }
  return page.items;
}
