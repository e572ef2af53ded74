import { join } from 'node:path';
import formbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { renderBoard } from '../page';
import { badRequest, reportError, sendError } from '../plugins/errors';
import { bodyErrors, MessageSchema, MessageText, storeErrors } from '../schemas';
import { StoreUnavailableError } from '../stores/store';
import { assertMessageText } from '../validation';

const BOARD_SIZE = 50;

const WelcomeSchema = Type.Object({
  message: Type.String(),
  time: Type.String({ format: 'date-time' }),
});

const SubmitSchema = Type.Object({
  new_message: Type.Optional(MessageText),
  message: Type.Optional(MessageText),
});

/** The page of the MySQL seed (GET / and the form's POST /submit) and the MongoDB seed's JSON welcome. */
export const boardRoutes: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(formbody, { bodyLimit: 65_536 });
  await app.register(fastifyStatic, {
    root: join(__dirname, '..', '..', 'public'),
    prefix: '/static/',
    maxAge: '1h',
  });

  // A refused form post comes back as the page, with the reason and the text kept in the field.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (!isFormPost(request)) return sendError(error, request, reply);
    const payload = reportError(error, request);
    const draft = (request.body as { new_message?: unknown } | undefined)?.new_message;
    return reply
      .code(payload.statusCode)
      .type('text/html; charset=utf-8')
      .send(
        renderBoard({
          engine: app.store.engine,
          error: payload.message,
          draft: typeof draft === 'string' ? draft : '',
        }),
      );
  });

  app.get(
    '/',
    {
      schema: {
        summary: 'The message board (HTML), or a JSON welcome for Accept: application/json',
        tags: ['board'],
        response: {
          200: {
            content: {
              'text/html': { schema: Type.String({ description: 'The page' }) },
              'application/json': { schema: WelcomeSchema },
            },
          },
          503: {
            content: { 'text/html': { schema: Type.String({ description: 'The page, saying the database is down' }) } },
          },
        },
      },
    },
    async (request, reply) => {
      if (wantsJson(request)) {
        return { message: 'Welcome to the two-tier message board', time: new Date().toISOString() };
      }
      reply.type('text/html; charset=utf-8');
      try {
        const { items } = await app.store.listMessages({ limit: BOARD_SIZE });
        return reply.send(renderBoard({ engine: app.store.engine, messages: items }));
      } catch (error) {
        if (!(error instanceof StoreUnavailableError)) throw error;
        return reply.code(503).send(renderBoard({ engine: app.store.engine, error: error.message }));
      }
    },
  );

  app.post(
    '/submit',
    {
      schema: {
        summary: 'Post a message from the form (field new_message) or as JSON {"message"}',
        tags: ['board'],
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: SubmitSchema,
        response: { 201: MessageSchema, ...storeErrors, ...bodyErrors },
      },
    },
    async (request, reply) => {
      const text = request.body.new_message ?? request.body.message;
      if (text === undefined) throw badRequest('new_message is required');
      assertMessageText(text);
      const created = await app.store.addMessage(text, new Date());
      if (isFormPost(request)) return reply.redirect('/', 303);
      return reply.code(201).send(created);
    },
  );
};

function wantsJson(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  return accept.includes('application/json') && !accept.includes('text/html');
}

function isFormPost(request: FastifyRequest): boolean {
  return (
    request.method === 'POST' && (request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')
  );
}
