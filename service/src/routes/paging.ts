import type { FastifyReply } from 'fastify';
import type { Page, PageQuery } from '../stores/store';

/**
 * Lists one page newest first and, when older items exist, links to them the way GitHub's API does:
 * `Link: </messages?limit=50&before=41>; rel="next"`. The query is validated: `before` has the engine's
 * id form and `limit` its default.
 */
export async function listPage<T extends { id: string }>(
  reply: FastifyReply,
  path: string,
  query: { limit?: number; before?: string },
  list: (query: PageQuery) => Promise<Page<T>>,
): Promise<T[]> {
  const validated = query as PageQuery;
  const page = await list(validated);
  const last = page.items.at(-1);
  if (page.hasMore && last) {
    reply.header('link', `<${path}?limit=${validated.limit}&before=${encodeURIComponent(last.id)}>; rel="next"`);
  }
  return page.items;
}
