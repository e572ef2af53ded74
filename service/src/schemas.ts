import { type Static, type TSchema, Type } from 'typebox';

export const MAX_MESSAGE_LENGTH = 2000;
export const MAX_DOCUMENT_DEPTH = 32;

const errorFields = { statusCode: Type.Integer(), error: Type.String(), message: Type.String() };

export const ErrorSchema = Type.Object(errorFields, {
  $id: 'Error',
  description:
    'A client error (4xx): nothing was written; or a 503: the database failed, and a write that timed out may have been applied',
});

/** An error answer of the contract's shape, described for one status, with the headers it carries. */
export function errorResponse(description: string, headers: Record<string, TSchema> = {}) {
  return { ...Type.Object(errorFields, { description }), headers };
}

export const MessageText = Type.String({
  minLength: 1,
  maxLength: MAX_MESSAGE_LENGTH,
  description: 'The text, 1 to 2000 characters, not only white space; stored verbatim',
});

export const MessageSchema = Type.Object(
  {
    id: Type.String({ description: 'Decimal on MySQL and memory, 24 hex digits on MongoDB' }),
    message: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Message' },
);

export const NewMessageSchema = Type.Object({ message: MessageText });

export const DocumentSchema = Type.Object(
  { id: Type.String({ description: 'Assigned by the server' }) },
  { additionalProperties: true, $id: 'Document', description: 'The JSON object as it was posted, with its id' },
);

export const NewDocumentSchema = Type.Object(
  {},
  {
    additionalProperties: true,
    description: `Any JSON object up to ${MAX_DOCUMENT_DEPTH} levels deep; keys must not start with "$" nor contain "." or NUL; "id" and "_id" are assigned by the server`,
  },
);

export const PageQuerySchema = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50, description: 'Items on this page' }),
  before: Type.Optional(
    Type.String({ minLength: 1, maxLength: 24, description: 'Only items older than this id (from a Link header)' }),
  ),
});

export type PageQuery = Static<typeof PageQuerySchema>;

/** Response headers of a page, in the form @fastify/swagger documents: name to schema. */
export const pageHeaders = {
  link: Type.String({ description: 'The next, older page, when there is one: `<…>; rel="next"`' }),
};

/** Error responses every route that touches the database may give. */
export const storeErrors = { 400: ErrorSchema, 503: ErrorSchema } as const;
/** Error responses every route that takes a body may give, besides `storeErrors`; 422 is a reused Idempotency-Key. */
export const bodyErrors = { 413: ErrorSchema, 415: ErrorSchema, 422: ErrorSchema } as const;
