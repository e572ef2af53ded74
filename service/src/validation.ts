import { badRequest } from './plugins/errors';
import { MAX_DOCUMENT_DEPTH } from './schemas';
import type { JsonObject } from './stores/store';

/** The error code of a missing or blank message, which the page words for people. */
export const EMPTY_MESSAGE = 'EMPTY_MESSAGE';

/** The schema bounds the length; this refuses a message that is only white space. */
export function assertMessageText(text: string): void {
  if (text.trim() === '') throw badRequest('message must not be empty or only white space', EMPTY_MESSAGE);
}

/**
 * Keys are refused the same way on every engine: "$" and "." are MongoDB operators and paths,
 * NUL ends a C string; "id" and "_id" are the server's.
 */
export function assertStorableDocument(document: JsonObject): void {
  for (const key of ['id', '_id']) {
    if (Object.hasOwn(document, key))
      throw badRequest(`"${key}" is assigned by the server; remove it from the document`);
  }
  const problem = findProblem(document, 1);
  if (problem) throw badRequest(problem);
}

function findProblem(value: unknown, depth: number): string | undefined {
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
    const problem = findProblem(child, depth + 1);
    if (problem) return problem;
  }
  return undefined;
}
