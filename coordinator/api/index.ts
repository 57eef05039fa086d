export * from './backend.js';
export * from './http-errors.js';
export {
  CLASSIFY_PATH,
  CLUSTER_PATH,
  EVENTS_PATH,
  PAGE_PATH,
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_RECEIVE_TIMEOUT_MS,
  HEALTH_PATH,
  METRICS_PATH,
  startHttpApi,
  type ApiLimits,
  type HttpApi,
  type HttpApiOptions,
  type MetricsEndpoint,
} from './http-server.js';
export { DEFAULT_API_LIMITS, classifyRequestParser, type ClassifyRequest } from './request-schema.js';
