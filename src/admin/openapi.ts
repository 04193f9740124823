import { checkBody, checkResponse, clientKeyParam, errorResponse, explainQuery, explainResponse, limitsResponse, overrideBody, routesResponse } from './schemas.js';

const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const errors = { 401: { description: 'missing or wrong bearer token', ...json(errorResponse) }, 400: { description: 'invalid input; `problems` name the fields', ...json(errorResponse) } };
const keyParam = [{ name: 'key', in: 'path', required: true, schema: clientKeyParam.properties.key }];

/**
 * The OpenAPI 3.1 document of the admin API, built from the same schema
 * objects Fastify validates with (schemas.ts). Nullable types are written as
 * JSON Schema type lists, which OpenAPI 3.1 reads; the document says 3.1.
 */
export function openApiDocument() {
  return {
    openapi: '3.1.0',
    info: { title: 'Throttlegate admin API', version: '1' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths: {
      '/v1/limits/{key}': {
        get: { summary: 'Effective limits and live state of a client key', parameters: keyParam, responses: { 200: { description: 'limits', ...json(limitsResponse) }, ...errors } },
        put: {
          summary: 'Set an override for one client: a limit, or a block (403)',
          parameters: keyParam,
          requestBody: { required: true, ...json(overrideBody) },
          responses: { 200: { description: 'the override in force' }, ...errors },
        },
        delete: { summary: "Remove a client's override", parameters: keyParam, responses: { 200: { description: 'removed' }, 404: { description: 'no override', ...json(errorResponse) }, ...errors } },
      },
      '/v1/check': {
        post: {
          summary: 'Rate limit as a service: take (or, with dry_run, peek at) a decision for a key under a policy',
          requestBody: { required: true, ...json(checkBody) },
          responses: { 200: { description: 'allowed', ...json(checkResponse) }, 429: { description: 'refused', ...json(checkResponse) }, 403: { description: 'the key is blocked by an override', ...json(errorResponse) }, 404: { description: 'unknown policy', ...json(errorResponse) }, ...errors },
        },
      },
      '/v1/routes': { get: { summary: 'The live route table and policies', responses: { 200: { description: 'routes', ...json(routesResponse) }, ...errors } } },
      '/v1/explain': {
        get: {
          summary: 'Which route, limits and client a request would get, and the decision now (nothing consumed)',
          parameters: [
            ...Object.entries(explainQuery.properties).map(([name, schema]) => ({ name, in: 'query', required: (explainQuery.required as readonly string[]).includes(name), schema })),
            { name: 'header.<name>', in: 'query', required: false, description: 'a request header, e.g. header.x-api-key=...', schema: { type: 'string' } },
          ],
          responses: { 200: { description: 'explanation', ...json(explainResponse) }, ...errors },
        },
      },
      '/v1/openapi.json': { get: { summary: 'This document', responses: { 200: { description: 'OpenAPI document' }, 401: errors[401] } } },
    },
  };
}
