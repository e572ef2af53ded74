import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { bodyErrors, DocumentSchema, NewDocumentSchema, PageQuerySchema, pageHeaders, storeErrors } from '../schemas';
import { assertStorableDocument } from '../validation';
import { IdempotencyHeadersSchema, idempotencyOf } from './idempotency';
import { listPage } from './paging';

export const dataRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/data',
    {
      schema: {
        summary: 'JSON documents, newest first',
        tags: ['data'],
        querystring: PageQuerySchema,
        response: { 200: { ...Type.Array(DocumentSchema), headers: pageHeaders }, ...storeErrors },
      },
    },
    (request, reply) => listPage(app, reply, '/data', request.query, (query) => app.store.listDocuments(query)),
  );

  app.post(
    '/data',
    {
      preValidation: app.writeLimit.preValidation,
      schema: {
        summary: 'Store a JSON document',
        description: app.writeLimit.description,
        tags: ['data'],
        headers: IdempotencyHeadersSchema,
        body: NewDocumentSchema,
        response: { 201: DocumentSchema, ...storeErrors, ...bodyErrors, ...app.writeLimit.responses },
      },
    },
    async (request, reply) => {
      const document = request.body as Record<string, unknown>;
      assertStorableDocument(document);
      return reply.code(201).send(await app.store.addDocument(document, idempotencyOf(request)));
    },
  );
};
