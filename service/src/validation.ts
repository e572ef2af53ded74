import Ajv from 'ajv';
import type { preValidationHookHandler } from 'fastify';
import { badRequest } from './plugins/errors';
import { JsonValueSchema, MAX_DOCUMENT_DEPTH, NewDocumentSchema, NewMessageSchema, NOT_BLANK } from './schemas';
import type { JsonObject } from './stores/store';

/** Bodies are validated as sent: a number is not a message, a field the schema does not name is refused. */
export const bodyValidator = new Ajv({
  coerceTypes: false,
  useDefaults: true,
  removeAdditional: false,
  allErrors: false,
}).addSchema(JsonValueSchema);

/** Half of a UTF-16 surrogate pair: with the u flag a whole pair is one code point, never this category. */
const LONE_SURROGATE = /\p{Cs}/u;
const wellFormed = (text: string) => !LONE_SURROGATE.test(text);

/** JSON can carry half a UTF-16 pair (`"\ud800"`), which no database stores: both would put U+FFFD in its place. */
const MALFORMED_UNICODE = (what: string) =>
  `${what} is not valid Unicode: it holds half of a UTF-16 surrogate pair (a lone \\uD800-\\uDFFF escape)`;

/** The error code of a missing or blank message, which the page words for people. */
export const EMPTY_MESSAGE = 'EMPTY_MESSAGE';

const notBlank = new RegExp(NOT_BLANK);

/*
 * The schemas say what these hooks refuse, so the OpenAPI document is exact; the hooks run before the
 * schema is checked and refuse it first, in words a person understands.
 */

/** Refuses a body without a message (the first of `fields` it has), or whose message is only white space. */
export function checkMessageText(...fields: string[]): preValidationHookHandler {
  return (request, _reply, done) => {
    const body = request.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return done();
    const text = fields.map((field) => (body as Record<string, unknown>)[field]).find((value) => value !== undefined);
    if (text === undefined) return done(badRequest(`${fields[0]} is required`, EMPTY_MESSAGE));
    if (typeof text === 'string' && text !== '' && !notBlank.test(text)) {
      return done(badRequest('message must not be empty or only white space', EMPTY_MESSAGE));
    }
    done(typeof text === 'string' && !wellFormed(text) ? badRequest(MALFORMED_UNICODE('message')) : undefined);
  };
}

/**
 * Refuses document keys the same way on every engine: "$" and "." are MongoDB operators and paths, NUL
 * ends a C string, "_bsontype" is BSON's type marker; "id" and "_id" are the server's; and documents nested too deep.
 */
export const checkDocument: preValidationHookHandler = (request, _reply, done) => {
  const document = request.body;
  if (document === null || typeof document !== 'object' || Array.isArray(document)) return done();
  const problem = documentProblem(document);
  done(problem ? badRequest(problem) : undefined);
};

const messageSchema = bodyValidator.compile(NewMessageSchema);
const documentSchema = bodyValidator.compile(NewDocumentSchema);

/**
 * Exactly what POST /messages checks (its hook, then its schema), for what the data command reads from a
 * file: the problem in words, or undefined.
 */
export function messageRefusal(text: unknown): string | undefined {
  if (typeof text === 'string' && !notBlank.test(text)) return 'message must not be empty or only white space';
  if (typeof text === 'string' && !wellFormed(text)) return MALFORMED_UNICODE('message');
  return schemaProblem(messageSchema, { message: text }, '');
}

/**
 * Exactly what POST /data checks (its hook, then its schema, which also refuses what the JSON parser refuses:
 * "__proto__" keys and a "constructor" holding a "prototype").
 */
export function documentRefusal(document: JsonObject): string | undefined {
  return documentProblem(document) ?? schemaProblem(documentSchema, document, 'document');
}

function schemaProblem(
  validate: ReturnType<typeof bodyValidator.compile>,
  value: unknown,
  what: string,
): string | undefined {
  if (validate(value)) return undefined;
  const errors = validate.errors ?? [];
  // Of the reasons each branch of JsonValue's anyOf gives, the key's or the poisoning's is the one that matters.
  const error =
    errors.find((error) => error.propertyName !== undefined) ??
    errors.find((error) => error.keyword === 'not') ??
    errors[0];
  if (!error) return `${what} is refused`;
  if (error.propertyName !== undefined) return `key ${JSON.stringify(error.propertyName)} ${error.message}`;
  const where = `${what}${error.instancePath}`.replace(/^\//, '');
  if (error.keyword === 'not')
    return `${where} holds a "constructor" with a "prototype", which the JSON parser refuses`;
  return `${where} ${error.message}`;
}

function documentProblem(document: object): string | undefined {
  for (const key of ['id', '_id']) {
    if (Object.hasOwn(document, key)) return `"${key}" is assigned by the server; remove it from the document`;
  }
  return findProblem(document, 1);
}

function findProblem(value: unknown, depth: number): string | undefined {
  if (typeof value === 'string') return wellFormed(value) ? undefined : MALFORMED_UNICODE('a string');
  if (value === null || typeof value !== 'object') return undefined;
  if (depth > MAX_DOCUMENT_DEPTH) return `documents may nest at most ${MAX_DOCUMENT_DEPTH} levels`;
  if (Array.isArray(value)) {
    for (const item of value) {
      const problem = findProblem(item, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  for (const [key, child] of Object.entries(value)) {
    if (key.startsWith('$')) return `key ${JSON.stringify(key)} must not start with "$"`;
    if (key.includes('.')) return `key ${JSON.stringify(key)} must not contain "."`;
    if (key.includes('\u0000')) return `key ${JSON.stringify(key)} must not contain a NUL character`;
    if (!wellFormed(key)) return MALFORMED_UNICODE('a key');
    if (key === '_bsontype') return 'key "_bsontype" is reserved: MongoDB\'s driver reads it as a BSON type';
    const problem = findProblem(child, depth + 1);
    if (problem) return problem;
  }
  return undefined;
}
