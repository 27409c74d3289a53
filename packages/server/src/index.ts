export { createServer } from './server.js'
export { consoleLogger, silentLogger } from './logger.js'
export type { Logger, LogFn, LogLevel } from './logger.js'
export type { RequestKind, RequestScope, RequestStart, ServerInstrumentation } from './instrumentation.js'
export { createChain } from './middleware.js'
export type { AnyMiddleware, Chain, ExtendContext, Middleware, MiddlewareKind, MiddlewareOptions, MiddlewareResult, Next, NoContext } from './middleware.js'
export { isDisconnectCode } from './connections.js'
export type { ConnectionDetails } from './connections.js'
export type { TopicScope } from './topics.js'
export { Session } from './connection.js'
export type { Transport, SessionConfig } from './connection.js'
export { parseCookies } from './adapters/ws.js'
export { PubSub } from './pubsub.js'
export { DEFAULT_POSITION_CHECK_MS } from './position-check.js'
export type { ChannelRoute, PubSubOptions, PubSubStats, Retention, Subscribed, SubscribeAnswer, Subscriber } from './pubsub.js'
export { DEFAULT_RETENTION_LIMITS, createMemoryEngine } from './engines/memory.js'
export type { MemoryEngineOptions, RetentionLimits } from './engines/memory.js'
export type {
  AsyncEngine,
  ChannelOptions,
  Engine,
  EngineHandler,
  EngineState,
  EngineStats,
  HistoryRead,
  Position,
  Publication,
  SyncEngine,
} from './engine.js'
export type { HistoryOptions, TopicHistory } from './history.js'
export type { Claim, DedupeStore, IdempotencyOptions } from './idempotency.js'
export { DedupeWindow } from './idempotency.js'
export type { RateLimit } from './rate-limit.js'
export type { Outcome } from './dispatch.js'
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
  Published,
  HistoryResult,
  ServerOptions,
  ServerStats,
  StreamHandler,
  StreamHandlerOptions,
  TopicOptions,
  TopicsOptions,
} from './types.js'
