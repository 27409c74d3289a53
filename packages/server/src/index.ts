export { createServer } from './server.js'
export { Session } from './connection.js'
export type { Transport, SessionConfig } from './connection.js'
export { parseCookies } from './adapters/ws.js'
export { DEFAULT_RETENTION_LIMITS, PubSub } from './pubsub.js'
export type { PubSubStats, RetentionLimits, Subscriber } from './pubsub.js'
export { DEFAULT_FLOW_LIMITS } from './outbound.js'
export type { Delivery, FlowLimits, FlowTransport } from './outbound.js'
export type {
  AttachOptions,
  ConnectionInfo,
  ErrorInfo,
  Handler,
  HandlerOptions,
  Handlers,
  HandshakeInfo,
  ListenOptions,
  MaybePromise,
  PatchbayServer,
  ServerOptions,
  ServerStats,
  StreamHandler,
  StreamHandlerOptions,
  TopicOptions,
  TopicsOptions,
} from './types.js'
