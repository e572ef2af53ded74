import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { crossSiteResponses, refuseCrossSite } from '../plugins/same-origin';
import { bodyErrors, NewDocumentSchema, pageHeaders, schemasFor, storeErrors } from '../schemas';
import { checkDocument } from '../validation';
import { IdempotencyHeadersSchema, idempotencyOf } from './idempotency';
import { listPage } from './paging';

export const dataRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { Document, PageQuery } = schemasFor(app.store.engine);

  app.get(
    '/data',
    {
      schema: {
        summary: 'JSON documents, newest first',
        tags: ['data'],
        querystring: PageQuery,
        response: { 200: { ...Type.Array(Document), headers: pageHeaders }, ...storeErrors },
      },
    },
    (request, reply) => listPage(reply, '/data', request.query, (query) => app.store.listDocuments(query)),
  );

  app.post(
    '/data',
    {
      onRequest: refuseCrossSite,
      preValidation: [app.writeLimit.preValidation, checkDocument],
      schema: {
        summary: 'Store a JSON document',
        description: app.writeLimit.description,
        tags: ['data'],
        headers: IdempotencyHeadersSchema,
        body: NewDocumentSchema,
        response: { 201: Document, ...storeErrors, ...bodyErrors, ...app.writeLimit.responses, ...crossSiteResponses },
      },
    },
    async (request, reply) => reply.code(201).send(await app.store.addDocument(request.body, idempotencyOf(request))),
  );
};
