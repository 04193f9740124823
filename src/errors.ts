/**
 * One catalogue of the gateway's coded errors. Each entry's key is its code, so a
 * log line, a test and the docs all name an error the same way. `error` is the
 * stable token clients see in JSON bodies (`{"error":"bad_gateway"}`).
 */
export const ERRORS = {
  TG_ERR_CONFIG_READ: { status: 0, error: 'config_read', message: 'cannot read config file' },
  TG_ERR_CONFIG_YAML: { status: 0, error: 'config_yaml', message: 'config file is not valid YAML' },
  TG_ERR_CONFIG_INVALID: { status: 0, error: 'config_invalid', message: 'config file has errors' },
  TG_ERR_REQUEST_BAD_PATH: { status: 400, error: 'bad_request', message: 'request path is malformed' },
  TG_ERR_REQUEST_BODY_TOO_LARGE: { status: 413, error: 'payload_too_large', message: 'request body is too large' },
  TG_ERR_REQUEST_HEADERS_TOO_LARGE: { status: 431, error: 'request_header_fields_too_large', message: 'request headers are too large' },
  TG_ERR_REQUEST_TIMEOUT: { status: 408, error: 'request_timeout', message: 'request was not received in time' },
  TG_ERR_SHUTTING_DOWN: { status: 503, error: 'shutting_down', message: 'the gateway is shutting down' },
  TG_ERR_REQUEST_METHOD_NOT_ALLOWED: { status: 405, error: 'method_not_allowed', message: 'method is not proxied' },
  TG_ERR_ROUTE_NOT_FOUND: { status: 404, error: 'not_found', message: 'no route matches the request path' },
  TG_ERR_INVALID_API_KEY: { status: 401, error: 'invalid_api_key', message: 'this route needs a valid API key' },
  TG_ERR_ACCESS_DENIED: { status: 403, error: 'forbidden', message: "the client is denied: a deny list, an operator's block, or adaptive protection's blocked band" },
  TG_ERR_LIMIT_EXCEEDED: { status: 429, error: 'rate_limited', message: 'rate limit exceeded' },
  TG_ERR_LIMIT_STORE_UNAVAILABLE: { status: 503, error: 'limiter_unavailable', message: 'rate-limit store unavailable (on_error: closed)' },
  TG_ERR_UPSTREAM_UNREACHABLE: { status: 502, error: 'bad_gateway', message: 'upstream refused or reset the connection' },
  TG_ERR_UPSTREAM_UNAVAILABLE: { status: 503, error: 'upstream_unavailable', message: 'no healthy upstream target' },
  TG_ERR_UPSTREAM_TIMEOUT: { status: 504, error: 'gateway_timeout', message: 'upstream did not answer in time' },
  TG_ERR_OVERLOADED: { status: 503, error: 'overloaded', message: "the route's upstream is at its adaptive concurrency limit for this client's band" },
  TG_ERR_INTERNAL: { status: 500, error: 'internal_error', message: 'internal error' },
} as const satisfies Record<string, { status: number; error: string; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** An error that carries a catalogue code; `cause` keeps the original failure. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly error: string;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    const entry = ERRORS[code];
    super(message ?? entry.message, options);
    this.name = 'GatewayError';
    this.code = code;
    this.status = entry.status;
    this.error = entry.error;
  }
}

/** The JSON body every gateway-generated error response carries. */
export function errorBody(code: ErrorCode): string {
  return `{"error":"${ERRORS[code].error}"}`;
}
