/** Public API: build a gateway from a config file or object. */
export { buildGateway, type Gateway, type GatewayOptions } from './server.js';
export { loadConfig, parseConfig } from './config/load.js';
export { ConfigError, type ConfigProblem } from './config/problems.js';
export type { GatewayConfig, RouteConfig, LimitPolicy, KeySource } from './config/types.js';
export type { LimitStore, Clock } from './limit/stores/store.js';
export type { LimitDecision } from './limit/decision.js';
export { MemoryStore } from './limit/stores/memory.js';
export { ERRORS, GatewayError, type ErrorCode } from './errors.js';
