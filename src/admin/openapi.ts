import {
  checkBody, checkResponse, clientKeyParam, clientResponse, clientsQuery, clientsResponse, errorResponse, explainQuery, explainResponse,
  feedbackBody, feedbackResponse, limitsResponse, overrideBody, routesResponse,
} from './schemas.js';
import { createKeyBody, keyCreated, keyDetail, keyIdParam, keyList, keyRotated, keyView, listKeysQuery, rotateKeyBody, updateKeyBody } from '../keys/admin-schemas.js';

const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const errors = { 401: { description: 'missing or wrong bearer token', ...json(errorResponse) }, 400: { description: 'invalid input; `problems` name the fields', ...json(errorResponse) } };
const keyParam = [{ name: 'key', in: 'path', required: true, schema: clientKeyParam.properties.key }];
const off = { 409: { description: 'adaptive protection is off (adaptive_off)', ...json(errorResponse) } };
const notSeen = { 404: { description: 'adaptive protection holds no features for this client (client_not_seen)', ...json(errorResponse) } };

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
          responses: { 200: { description: 'the override in force; with adaptive protection on, `feedback` says what it taught the risk model (a block is bad, a raise good)' }, ...errors },
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
      '/v1/clients': {
        get: {
          summary: 'Adaptive protection: the top clients by risk (last score), requests or refusals, with band, reason and top features',
          parameters: Object.entries(clientsQuery.properties).map(([name, schema]) => ({ name, in: 'query', required: false, schema })),
          responses: { 200: { description: 'clients', ...json(clientsResponse) }, ...off, ...errors },
        },
      },
      '/v1/clients/{key}': {
        get: {
          summary: "Adaptive protection: one client's features, score, band, explanation and band changes",
          parameters: keyParam,
          responses: { 200: { description: 'the client', ...json(clientResponse) }, ...notSeen, ...off, ...errors },
        },
      },
      '/v1/feedback': {
        post: {
          summary: 'Label a client good or bad: one learning step of the risk model on its features (logged, counted in throttlegate_feedback_total)',
          requestBody: { required: true, ...json(feedbackBody) },
          responses: {
            200: { description: 'learned', ...json(feedbackResponse) },
            ...notSeen,
            409: { description: 'adaptive protection is off (adaptive_off) or does not learn (learning_disabled)', ...json(errorResponse) },
            503: { description: 'the shared weights could not be read or saved (store_unavailable): nothing was learned', ...json(errorResponse) },
            ...errors,
          },
        },
      },
      ...keyPaths(),
      '/v1/openapi.json': { get: { summary: 'This document', responses: { 200: { description: 'OpenAPI document' }, 401: errors[401] } } },
    },
  };
}

/** /v1/keys: the key store's management (keys/admin.ts). */
function keyPaths() {
  const idParam = [{ name: 'id', in: 'path', required: true, schema: keyIdParam.properties.id }];
  const query = Object.entries(listKeysQuery.properties).map(([name, schema]) => ({ name, in: 'query', required: false, schema }));
  const store = {
    409: { description: 'keys come from the config file (key_store_off), the id is taken (key_exists) or the key is revoked (key_revoked)', ...json(errorResponse) },
    503: { description: 'PostgreSQL is unreachable (key_store_unavailable): the gateway serves the keys it holds', ...json(errorResponse) },
  };
  const missing = { 404: { description: 'no key has this id (key_not_found)', ...json(errorResponse) } };
  return {
    '/v1/keys': {
      get: { summary: 'List keys (paged by id; filter by plan or state); never a key, only its first 8 characters', parameters: query, responses: { 200: { description: 'a page', ...json(keyList) }, ...store, ...errors } },
      post: {
        summary: 'Issue a key: the answer holds the key itself, this once (only its SHA-256 is stored)',
        requestBody: { required: true, ...json(createKeyBody) },
        responses: { 201: { description: 'created', ...json(keyCreated) }, ...store, ...errors },
      },
    },
    '/v1/keys/{id}': {
      get: { summary: 'One key: plan, state, times, requests in the last hour and day', parameters: idParam, responses: { 200: { description: 'the key', ...json(keyDetail) }, ...missing, ...store, ...errors } },
      patch: {
        summary: 'Change plan, expiry, note, or disable/enable a key',
        parameters: idParam,
        requestBody: { required: true, ...json(updateKeyBody) },
        responses: { 200: { description: 'changed', ...json(keyView) }, ...missing, ...store, ...errors },
      },
      delete: { summary: 'Revoke a key: 401 on every instance within a second, for good', parameters: idParam, responses: { 200: { description: 'revoked', ...json(keyView) }, ...missing, ...store, ...errors } },
    },
    '/v1/keys/{id}/rotate': {
      post: {
        summary: 'A new key for the same id; the one in use keeps working for `grace` (default 24h)',
        parameters: idParam,
        requestBody: { required: false, ...json(rotateKeyBody) },
        responses: { 201: { description: 'the new key, shown this once', ...json(keyRotated) }, ...missing, ...store, ...errors },
      },
    },
  };
}
