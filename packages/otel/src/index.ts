export { serverTelemetry } from './server.js'
export type { ServerTelemetryOptions } from './server.js'
export { clientTelemetry } from './client.js'
export type { ClientTelemetryOptions } from './client.js'
export { INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION } from './version.js'
export {
  METRIC_CONNECTIONS,
  METRIC_DELIVERIES,
  METRIC_DROPPED,
  METRIC_LAGS,
  METRIC_RATE_LIMITED,
  METRIC_REQUEST_DURATION,
  METRIC_REQUESTS,
  METRIC_SLOW_CONSUMERS,
  OK,
  UNKNOWN_PATH,
} from './metrics.js'
export {
  ATTR_PATCHBAY_CODE,
  ATTR_PATCHBAY_ENCODING,
  ATTR_PATCHBAY_KIND,
  ATTR_PATCHBAY_PATH,
  ATTR_PATCHBAY_TOPIC,
  RPC_SYSTEM,
} from './attributes.js'
