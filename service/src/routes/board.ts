import formbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyRequest } from 'fastify';
import helmet from 'helmet';
import Negotiator from 'negotiator';
import { Type } from 'typebox';
import { renderBoard } from '../page';
import { type ErrorBody, type ErrorRenderer, sendJsonError } from '../plugins/errors';
import { crossSiteResponses, refuseCrossSite } from '../plugins/same-origin';
import { bodyErrors, MAX_MESSAGE_LENGTH, MessageText, pageOrJsonError, schemasFor, storeErrors } from '../schemas';
import { checkMessageText, EMPTY_MESSAGE } from '../validation';
import { IdempotencyHeadersSchema, idempotencyOf } from './idempotency';

const BOARD_SIZE = 50;
const HTML = 'text/html; charset=utf-8';

const WelcomeSchema = Type.Object({
  message: Type.String(),
  time: Type.String({ format: 'date-time' }),
});

/** The form's field, or the JSON API's: one of them is required. */
const SubmitSchema = Type.Object(
  { new_message: Type.Optional(MessageText), message: Type.Optional(MessageText) },
  { additionalProperties: false, anyOf: [{ required: ['new_message'] }, { required: ['message'] }] },
);

/** The form's answers besides the JSON 201: the 303 to the page, and each error as the page or as JSON. */
const submitResponses = {
  303: {
    type: 'null',
    description: 'Posted, for a client that did not ask for JSON: back to the page',
    headers: { location: Type.String({ description: 'The page: /' }) },
  },
  ...Object.fromEntries(
    Object.entries({ ...storeErrors, ...bodyErrors }).map(([status, error]) => [status, pageOrJsonError(error)]),
  ),
};

/** The page's security headers, computed once; only the page and its files get them, JSON needs none. */
const securityHeaders = helmet({
  // Plain HTTP behind a load balancer: no HSTS and no upgrade of requests to https.
  strictTransportSecurity: false,
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'"],
      connectSrc: ["'self'"],
      fontSrc: ["'self'"],
      formAction: ["'self'"],
      baseUri: ["'self'"],
      objectSrc: ["'none'"],
      frameAncestors: ["'none'"],
    },
  },
});

export interface BoardOptions {
  /** The folder of the page's files (service/public). */
  publicRoot: string;
}

/** The page of the MySQL seed (GET / and the form's POST /submit) and the MongoDB seed's JSON welcome. */
export const boardRoutes: FastifyPluginAsyncTypebox<BoardOptions> = async (app, { publicRoot }) => {
  const { Message } = schemasFor(app.store.engine);
  await app.register(formbody, { bodyLimit: 65_536 });
  await app.register(fastifyStatic, {
    root: publicRoot,
    prefix: '/static/',
    maxAge: '1h',
  });
  app.addHook('onRequest', (request, reply, done) =>
    securityHeaders(request.raw, reply.raw, (error) => done(error as Error | undefined)),
  );

  /** A failure comes back as the page (with the list, the reason in words and the text kept), or as JSON. */
  const renderError: ErrorRenderer = async (error, payload, request, reply) => {
    if (wantsJson(request)) return sendJsonError(payload, reply);
    // A database that failed, or a client over its write limit, gets the page without reading the database.
    const messages =
      payload.statusCode === 503 || payload.statusCode === 429
        ? undefined
        : await app.store.listMessages({ limit: BOARD_SIZE }).then(
            (page) => page.items,
            () => undefined,
          );
    const page = renderBoard({
      engine: app.store.engine,
      messages,
      error: forPeople(error, payload, draftOf(request)),
      draft: draftOf(request),
    });
    return reply.code(payload.statusCode).type(HTML).send(page);
  };

  app.get(
    '/',
    {
      config: { renderError },
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
            description:
              'The database failed: the page says so (a JSON client gets the welcome, which needs no database)',
            headers: storeErrors[503].headers,
            content: { 'text/html': { schema: Type.String({ description: 'The page, saying what is wrong' }) } },
          },
        },
      },
    },
    async (request, reply) => {
      reply.header('vary', 'Accept');
      if (wantsJson(request)) {
        return { message: 'Welcome to the two-tier message board', time: new Date().toISOString() };
      }
      const { items } = await app.store.listMessages({ limit: BOARD_SIZE });
      return reply.type(HTML).send(renderBoard({ engine: app.store.engine, messages: items }));
    },
  );

  app.post(
    '/submit',
    {
      config: { renderError },
      onRequest: refuseCrossSite,
      preValidation: [app.writeLimit.preValidation, checkMessageText('new_message', 'message')],
      schema: {
        summary:
          'Post a message from the form (field new_message) or as JSON {"message"}: JSON 201 when the client accepts JSON, else a 303 to the page',
        description: app.writeLimit.description,
        tags: ['board'],
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        headers: IdempotencyHeadersSchema,
        body: SubmitSchema,
        response: {
          201: Message,
          ...submitResponses,
          429: pageOrJsonError(app.writeLimit.responses[429]),
          ...crossSiteResponses,
        },
      },
    },
    async (request, reply) => {
      reply.header('vary', 'Accept');
      // checkMessageText refused a body with neither.
      const text = (request.body.new_message ?? request.body.message) as string;
      const created = await app.store.addMessage(text, new Date(), idempotencyOf(request));
      if (!wantsJson(request)) return reply.redirect('/', 303);
      return reply.code(201).send(created);
    },
  );
};

/**
 * JSON when the client's Accept ranks it above HTML (media types compared case-insensitively); when
 * it ranks them equally or says nothing, the body's own type decides.
 */
function wantsJson(request: FastifyRequest): boolean {
  const sentJson = (request.headers['content-type'] ?? '').toLowerCase().startsWith('application/json');
  const offers = sentJson ? ['application/json', 'text/html'] : ['text/html', 'application/json'];
  return new Negotiator(request.raw).mediaType(offers) === 'application/json';
}

function draftOf(request: FastifyRequest): string {
  const body = request.body as { new_message?: unknown; message?: unknown } | undefined;
  const draft = body?.new_message ?? body?.message;
  return typeof draft === 'string' ? draft : '';
}

/** The page's wording of an error, as a person would put it. */
function forPeople(error: FastifyError, payload: ErrorBody, draft: string): string {
  const keyword = error.validation?.[0]?.keyword;
  if (error.code === EMPTY_MESSAGE || keyword === 'minLength' || keyword === 'required') {
    return 'Please write a message before posting: it cannot be empty or only spaces.';
  }
  if (keyword === 'maxLength' || payload.statusCode === 413) {
    return `Your message is ${draft.length || 'too many'} characters long; please shorten it to ${MAX_MESSAGE_LENGTH} or fewer.`;
  }
  if (payload.statusCode === 500) return 'Something went wrong on our side. Please try again.';
  const text = payload.message;
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? '' : '.'}`;
}
