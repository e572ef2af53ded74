import { type TSchema, Type } from 'typebox';
import type { DbEngine } from './config';
import { ID_PATTERNS } from './stores/store';

export const MAX_MESSAGE_LENGTH = 2000;
export const MAX_DOCUMENT_DEPTH = 32;
export const MAX_BODY_KIB = 64;

/**
 * Not only white space: one character outside JavaScript's white space and line terminators (what
 * `trim()` removes), listed rather than written `\S`, which other languages' regular expressions read otherwise.
 */
export const NOT_BLANK = '[^\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]';

/**
 * A document key: not starting with "$" nor containing "." (MongoDB's operators and paths) or NUL (the end
 * of a C string), not "__proto__" (the JSON parser refuses it) and not "_bsontype" (BSON's type marker).
 */
const KEY = '^(?!\\$)(?!__proto__$)(?!_bsontype$)[^.\\u0000]*$';
/** A document's own keys: the same, and "id" and "_id" are the server's. */
const TOP_KEY = '^(?!\\$)(?!__proto__$)(?!_bsontype$)(?!_?id$)[^.\\u0000]*$';

const errorFields = { statusCode: Type.Integer(), error: Type.String(), message: Type.String() };

/** An error answer of the contract's shape, described for one status, with the headers it carries. */
export function errorResponse(description: string, headers: Record<string, TSchema> = {}) {
  return { ...Type.Object(errorFields), description, headers };
}

/**
 * The same error as JSON for clients that ask for it (Accept), or as the page that says what is wrong,
 * with the list of messages and the text kept: the form's answers.
 */
export function pageOrJsonError(error: ReturnType<typeof errorResponse>) {
  const { description, headers, ...json } = error;
  return {
    description,
    headers,
    content: {
      'application/json': { schema: json },
      'text/html': { schema: Type.String({ description: 'The page, the reason above the form' }) },
    },
  };
}

export const MessageText = Type.String({
  minLength: 1,
  maxLength: MAX_MESSAGE_LENGTH,
  pattern: NOT_BLANK,
  description: `The text, 1 to ${MAX_MESSAGE_LENGTH} characters, not only white space, valid Unicode (no lone UTF-16 surrogate such as "\\ud800"); stored verbatim`,
});

export const NewMessageSchema = Type.Object({ message: MessageText }, { additionalProperties: false });

/** What the JSON parser refuses as prototype poisoning: an object whose "constructor" has a "prototype". */
const POISONED = {
  type: 'object',
  required: ['constructor'],
  properties: { constructor: { type: 'object', required: ['prototype'] } },
};

/** Any JSON value whose objects' keys follow KEY; shared, so it can refer to itself. */
export const JsonValueSchema = {
  $id: 'JsonValue',
  anyOf: [
    { type: 'null' },
    { type: 'boolean' },
    { type: 'number' },
    { type: 'string' },
    { type: 'array', items: { $ref: 'JsonValue#' } },
    {
      type: 'object',
      propertyNames: { pattern: KEY },
      additionalProperties: { $ref: 'JsonValue#' },
      not: POISONED,
    },
  ],
} as const;

export const NewDocumentSchema = Type.Unsafe<Record<string, unknown>>({
  type: 'object',
  propertyNames: { pattern: TOP_KEY },
  additionalProperties: { $ref: 'JsonValue#' },
  not: POISONED,
  description: `Any JSON object up to ${MAX_DOCUMENT_DEPTH} levels deep; no key starts with "$" or contains "." or NUL, no key is "_bsontype" (BSON's type marker), no key or string holds a lone UTF-16 surrogate, "id" and "_id" are assigned by the server, and no "constructor" holds a "prototype"`,
});

const ID_DESCRIPTIONS: Record<DbEngine, string> = {
  mysql: 'Decimal, from 1 (MySQL AUTO_INCREMENT)',
  memory: 'Decimal, from 1',
  mongodb: 'A MongoDB ObjectId: 24 hex digits',
};

/** The schemas whose ids have the engine's form, made once per engine so each $id is one object. */
function engineSchemas(engine: DbEngine) {
  const id = (what: string) =>
    Type.String({ pattern: ID_PATTERNS[engine], description: `${what}; ${ID_DESCRIPTIONS[engine]}` });
  return {
    Message: Type.Object(
      {
        id: id('Assigned by the server'),
        message: Type.String(),
        createdAt: Type.String({ format: 'date-time' }),
      },
      { $id: 'Message' },
    ),
    Document: Type.Object(
      { id: id('Assigned by the server') },
      { additionalProperties: true, $id: 'Document', description: 'The JSON object as it was posted, with its id' },
    ),
    PageQuery: Type.Object({
      limit: Type.Optional(
        Type.Integer({
          minimum: 1,
          maximum: 500,
          default: 50,
          description: 'Items on this page, at most: a page also stops at 1 MiB of JSON (the Link header leads on)',
        }),
      ),
      before: Type.Optional(id('Only items older than this one (the Link header of the previous page names it)')),
    }),
  };
}

const schemasByEngine = new Map<DbEngine, ReturnType<typeof engineSchemas>>();
export function schemasFor(engine: DbEngine): ReturnType<typeof engineSchemas> {
  const made = schemasByEngine.get(engine) ?? engineSchemas(engine);
  schemasByEngine.set(engine, made);
  return made;
}

/** Response headers of a page, in the form @fastify/swagger documents: name to schema. */
export const pageHeaders = {
  link: Type.String({ description: 'The next, older page, when there is one: `<…>; rel="next"`' }),
};

/** Error responses every route that touches the database may give. */
export const storeErrors = {
  400: errorResponse(
    'The request breaks this document (a parameter, header or body it refuses), or the database refused a value in it (the message says which problem): nothing was written',
  ),
  503: errorResponse(
    'The database failed or did not answer in time, or (a read) this pod is reading as many pages as it takes at once; a write that timed out may have been applied (a retry with the same Idempotency-Key stores it once)',
    { 'retry-after': Type.Integer({ minimum: 0, description: 'Seconds to wait before retrying' }) },
  ),
};

/** Error responses every route that takes a body may give, besides `storeErrors`. */
export const bodyErrors = {
  413: errorResponse(`The body is over ${MAX_BODY_KIB} KiB: nothing was written`),
  415: errorResponse('The body is not of a content type this operation takes: nothing was written'),
  422: errorResponse(
    'This Idempotency-Key came before with another request: nothing was written (use a new key for a new request)',
  ),
};
