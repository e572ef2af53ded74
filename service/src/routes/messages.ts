import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { crossSiteResponses, refuseCrossSite } from '../plugins/same-origin';
import { bodyErrors, NewMessageSchema, pageHeaders, schemasFor, storeErrors } from '../schemas';
import { checkMessageText } from '../validation';
import { IdempotencyHeadersSchema, idempotencyOf } from './idempotency';
import { listPage } from './paging';

export const messageRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { Message, PageQuery } = schemasFor(app.store.engine);

  app.get(
    '/messages',
    {
      schema: {
        summary: 'Messages, newest first',
        tags: ['messages'],
        querystring: PageQuery,
        response: { 200: { ...Type.Array(Message), headers: pageHeaders }, ...storeErrors },
      },
    },
    (request, reply) => listPage(reply, '/messages', request.query, (query) => app.store.listMessages(query)),
  );

  app.post(
    '/messages',
    {
      onRequest: refuseCrossSite,
      preValidation: [app.writeLimit.preValidation, checkMessageText('message')],
      schema: {
        summary: 'Post a message',
        description: app.writeLimit.description,
        tags: ['messages'],
        headers: IdempotencyHeadersSchema,
        body: NewMessageSchema,
        response: { 201: Message, ...storeErrors, ...bodyErrors, ...app.writeLimit.responses, ...crossSiteResponses },
      },
    },
    async (request, reply) => {
      const created = await app.store.addMessage(request.body.message, new Date(), idempotencyOf(request));
      return reply.code(201).send(created);
    },
  );
};
