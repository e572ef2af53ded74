import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { bodyErrors, MessageSchema, NewMessageSchema, PageQuerySchema, pageHeaders, storeErrors } from '../schemas';
import { assertMessageText } from '../validation';
import { IdempotencyHeadersSchema, idempotencyOf } from './idempotency';
import { listPage } from './paging';

export const messageRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/messages',
    {
      schema: {
        summary: 'Messages, newest first',
        tags: ['messages'],
        querystring: PageQuerySchema,
        response: { 200: { ...Type.Array(MessageSchema), headers: pageHeaders }, ...storeErrors },
      },
    },
    (request, reply) => listPage(app, reply, '/messages', request.query, (query) => app.store.listMessages(query)),
  );

  app.post(
    '/messages',
    {
      preValidation: app.writeLimit.preValidation,
      schema: {
        summary: 'Post a message',
        description: app.writeLimit.description,
        tags: ['messages'],
        headers: IdempotencyHeadersSchema,
        body: NewMessageSchema,
        response: { 201: MessageSchema, ...storeErrors, ...bodyErrors, ...app.writeLimit.responses },
      },
    },
    async (request, reply) => {
      assertMessageText(request.body.message);
      const created = await app.store.addMessage(request.body.message, new Date(), idempotencyOf(request));
      return reply.code(201).send(created);
    },
  );
};
