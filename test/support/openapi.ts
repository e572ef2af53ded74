import assert from 'node:assert/strict';
import Ajv, { type ValidateFunction } from 'ajv';

/**
 * Validators of the JSON responses an OpenAPI document declares, strict about fields: an object schema
 * that does not allow more properties than it names rejects any other (formats are not checked here).
 */
export function responseSchemas(document: object): (path: string, method: string, status: number) => ValidateFunction {
  const strict = (schema: unknown): unknown => {
    if (Array.isArray(schema)) return schema.map(strict);
    if (typeof schema !== 'object' || schema === null) return schema;
    const copy = Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, strict(value)]));
    if (copy.type === 'object' && copy.additionalProperties === undefined) copy.additionalProperties = false;
    return copy;
  };
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  ajv.addSchema(strict(document) as object, 'openapi');
  return (path, method, status) => {
    const pointer = ['paths', path, method.toLowerCase(), 'responses', String(status), 'content', 'application/json']
      .map((part) => part.replaceAll('~', '~0').replaceAll('/', '~1'))
      .join('/');
    const validate = ajv.getSchema(`openapi#/${pointer}/schema`);
    assert.ok(validate, `the document declares no JSON ${status} answer for ${method} ${path}`);
    return validate;
  };
}
