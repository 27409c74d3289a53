/**
 * createServer: resolves the router against its handlers once, then hands sockets to the
 * adapter. Everything here is runtime-free; the `ws` glue lives in adapters/ws.ts.
 */
import {
  ErrorCode,
  PatchbayError,
  flatRouter,
  isBackpressurePolicy,
  flattenRouter,
  resolveLimits,
  validate,
  DEFAULT_ENCODINGS,
  type AnyTopic,
  type BackpressurePolicy,
  type Limits,
  type RouterDef,
  type ValidationResult,
} from '@patchbay/core'
import { createWsAdapter } from './adapters/ws.js'
import { resolveLogger } from './logger.js'
import { ServerLog } from './log-events.js'
import { SessionHost, registerHost, type SessionHostOptions } from './session-host.js'
import type { Route } from './dispatch.js'
import type { SessionConfig } from './connection.js'
import { DEFAULT_IDEMPOTENCY, DedupeWindow } from './idempotency.js'
import { resolveFlowLimits, type FlowLimits } from './outbound.js'
import { DEFAULT_RATE_LIMIT, type RateLimit } from './rate-limit.js'
import { DEFAULT_RETENTION_LIMITS, createMemoryEngine } from './engines/memory.js'
import { PubSub } from './pubsub.js'
import { readHistory, type HistoryOptions, type TopicHistory } from './history.js'
import type { StreamRoute } from './streams.js'
import { connectionChannel, resolveChannel, unpublishable, type TopicRoute, type TopicScope } from './topics.js'
import { ConnectionRegistry } from './connections.js'
import { walk } from './middleware.js'
import type { Engine, SyncEngine } from './engine.js'
import type { PatchbayServer, ServerOptions, ServerStats } from './types.js'

/**
 * Creates a Patchbay server for `api`. Throws if a procedure has no handler or a handler
 * names no procedure, so a wrong server fails at start rather than on the first call.
 */
export function createServer<R extends RouterDef, TCtx = undefined, E extends Engine = SyncEngine>(
  api: R,
  options: ServerOptions<R, TCtx, E>,
): PatchbayServer<E, TCtx, R> {
  // A router of topics alone has no handlers: JavaScript callers may leave the option out.
  const { routes, streams } = resolveRoutes(api, (options.handlers ?? {}) as unknown as HandlerTree)
  const limits = resolveLimits(options.limits)
  const flow = resolveFlowLimits(options.backpressure)
  const topics = resolveTopics(api, (options.topics ?? {}) as TopicOptionsTree, flow)
  if (options.engine !== undefined && options.retention !== undefined) {
    throw new TypeError('retention bounds the default memory engine: with `engine`, pass them to createMemoryEngine({ retention })')
  }
  const engine: Engine = options.engine ?? createMemoryEngine(options.retention === undefined ? {} : { retention: options.retention })
  const pubsub = new PubSub(engine, {
    rememberChannels: { ...DEFAULT_RETENTION_LIMITS, ...options.retention }.maxChannels,
    ...(options.positionCheckMs === undefined ? {} : { positionCheckMs: options.positionCheckMs }),
    instrumentation: options.instrumentation,
  })
  const stats: ServerStats = {
    connections: 0,
    refused: 0,
    violations: 0,
    calls: 0,
    lateCancels: 0,
    heartbeatTimeouts: 0,
    pauses: 0,
    dropped: 0,
    slowConsumers: 0,
    rateLimited: 0,
    deduplicated: 0,
  }
  const log = new ServerLog(resolveLogger(options.logger))
  const onError = options.onError
  const idempotency = { ...DEFAULT_IDEMPOTENCY, ...options.idempotency }
  for (const key of ['windowMs', 'maxKeys', 'maxWaitersPerKey'] as const) positiveInteger(idempotency[key], `idempotency.${key}`)
  const config: SessionConfig = {
    routes,
    streams,
    flow,
    dedupe: engine.dedupe?.(idempotency) ?? new DedupeWindow(idempotency),
    rateLimit: resolveRateLimit(options.rateLimit),
    expiresAt: options.expiresAt as ((ctx: unknown) => number | Date | undefined) | undefined,
    instrumentation: options.instrumentation,
    topics,
    pubsub,
    limits,
    stats,
    validateOutput: options.validateOutput ?? false,
    exposeErrors: options.exposeErrors ?? false,
    log,
    // Every unexpected exception reaches the client as INTERNAL and nothing else: say so
    // where the operator looks, once per failure, then tell the application's own hook.
    onError: (error, info) => {
      log.handlerError(error, info.path, info.connectionId)
      onError?.(error, info)
    },
  }
  const encodings = options.encodings ?? DEFAULT_ENCODINGS
  if (encodings.length === 0) throw new TypeError('encodings must name at least one encoding')
  const flat = flatRouter(api)
  const publish = (topic: AnyTopic, params: unknown, message: unknown): number | Promise<number> => {
    const path = flat.topicPaths.get(topic)
    const route = path === undefined ? undefined : topics.get(path)
    if (route === undefined) throw new TypeError('publish: that topic is not part of this server\'s router')
    if (route.scope === 'connection') throw new TypeError(`publish: "${route.path}" is a per-connection topic; use publishTo(connectionId, …)`)
    return publishValidated(route, params, message, limits, pubsub, undefined)
  }
  const publishTo = (connectionId: string, topic: AnyTopic, params: unknown, message: unknown): number | Promise<number> => {
    const path = flat.topicPaths.get(topic)
    const route = path === undefined ? undefined : topics.get(path)
    if (route === undefined) throw new TypeError('publishTo: that topic is not part of this server\'s router')
    if (route.scope !== 'connection') throw new TypeError(`publishTo: "${route.path}" is shared by its subscribers; give it \`scope: 'connection'\` in the server's topics options`)
    if (typeof connectionId !== 'string' || connectionId === '') throw new TypeError('publishTo: connectionId must be a connection\'s id')
    return publishValidated(route, params, message, limits, pubsub, connectionId)
  }
  const history = (topic: AnyTopic, params: unknown, historyOptions: HistoryOptions = {}): TopicHistory<unknown> | Promise<TopicHistory<unknown>> => {
    const path = flat.topicPaths.get(topic)
    const route = path === undefined ? undefined : topics.get(path)
    if (route === undefined) throw new TypeError('history: that topic is not part of this server\'s router')
    const resolved = resolveChannel(route, params, limits)
    if (resolved instanceof Promise) throw new TypeError(`history: the params schema of "${route.path}" is async; use a synchronous schema`)
    if (!resolved.ok) throw PatchbayError.fromWire(resolved.error)
    return readHistory(engine, resolved.channel, historyOptions, route.retention.history)
  }
  const host = new SessionHost({
    api,
    config,
    encodings,
    context: options.context as SessionHostOptions['context'],
    registry: new ConnectionRegistry(),
    maxConnections: positiveInteger(options.maxConnections ?? 10_000, 'maxConnections'),
    onClose: options.onClose as SessionHostOptions['onClose'],
    closeTimeout: options.closeTimeout ?? 5_000,
  })
  const server = createWsAdapter({
    host,
    origins: options.origins,
    closeTimeout: host.options.closeTimeout,
    heartbeatInterval: options.heartbeatInterval ?? 30_000,
    handshakeTimeout: positiveInteger(options.handshakeTimeout ?? 10_000, 'handshakeTimeout'),
    maxHandshakes: positiveInteger(options.maxHandshakes ?? 1_000, 'maxHandshakes'),
    publish: publish as PatchbayServer<E>['publish'],
    history: history as PatchbayServer<E>['history'],
    publishTo: publishTo as PatchbayServer<E>['publishTo'],
    log,
  }) as PatchbayServer<E, TCtx, R>
  // Where `@patchbay/server/testing` finds the sessions of this server, to add its own.
  registerHost(server, host)
  return server
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${String(value)}`)
  return value
}

function resolveRateLimit(option: Partial<RateLimit> | false | undefined): RateLimit | undefined {
  if (option === false) return undefined
  const limit = { ...DEFAULT_RATE_LIMIT, ...option }
  positiveInteger(limit.perSecond, 'rateLimit.perSecond')
  positiveInteger(limit.burst, 'rateLimit.burst')
  return limit
}

/** `connectionId`: publishTo's, for a per-connection topic's channel of that connection. */
function publishValidated(route: TopicRoute, params: unknown, message: unknown, limits: Limits, pubsub: PubSub, connectionId: string | undefined): number | Promise<number> {
  const resolved = resolveChannel(route, params, limits)
  if (resolved instanceof Promise) throw new TypeError(`publish: the params schema of "${route.path}" is async; use a synchronous schema`)
  if (!resolved.ok) throw PatchbayError.fromWire(resolved.error)
  const checked = validate(route.topic.message, message) as ValidationResult<unknown> | Promise<unknown>
  if (checked instanceof Promise) throw new TypeError(`publish: the message schema of "${route.path}" is async; use a synchronous schema`)
  if (!checked.ok) throw new PatchbayError(ErrorCode.BAD_REQUEST, `Message for "${route.path}" failed validation`, { issues: checked.issues })
  const refused = unpublishable(route, checked.value, limits)
  if (refused !== undefined) throw PatchbayError.fromWire(refused)
  // A number with a synchronous engine (as before the seam), a promise with another.
  const channel = connectionId === undefined ? resolved.channel : connectionChannel(resolved.channel, connectionId)
  return pubsub.publish(channel, checked.value, route)
}

interface TopicOptionsEntry extends Partial<Pick<TopicRoute, 'authorize' | 'authorizePublish' | 'publish'>> {
  scope?: TopicScope
  backpressure?: BackpressurePolicy
  highWaterMark?: number
  history?: number
  retainMs?: number
}

/** How long a channel outlives its last subscriber, by default. */
const DEFAULT_RETAIN_MS = 60_000

interface TopicOptionsTree {
  readonly [name: string]: TopicOptionsTree | TopicOptionsEntry
}

function resolveTopics(api: RouterDef, options: TopicOptionsTree, flow: FlowLimits): Map<string, TopicRoute> {
  const topics = new Map<string, TopicRoute>()
  for (const [path, topic] of flatRouter(api).topics) {
    const { value, middleware } = walk(options, api, path, 'topics')
    const own = (value ?? {}) as TopicOptionsEntry
    const policy = own.backpressure ?? topic.backpressure
    if (!isBackpressurePolicy(policy)) throw new TypeError(`topics.${path}.backpressure must be "queue", "latest", "drop" or "close"`)
    const highWaterMark = own.highWaterMark ?? flow.highWaterMark
    if (!Number.isSafeInteger(highWaterMark) || highWaterMark <= 0 || highWaterMark > flow.maxBuffered) {
      throw new RangeError(`topics.${path}.highWaterMark must be a positive integer no larger than backpressure.maxBuffered`)
    }
    const scope = own.scope ?? 'shared'
    if (scope !== 'shared' && scope !== 'connection') throw new TypeError(`topics.${path}.scope must be "shared" or "connection"`)
    const publish = own.publish ?? topic.publish
    if (scope === 'connection' && publish !== 'server') throw new TypeError(`topics.${path}: a per-connection topic is published by the server only`)
    if (scope === 'connection' && (own.history ?? 0) !== 0) throw new RangeError(`topics.${path}.history must be 0 for a per-connection topic: no later connection resumes its channel`)
    const history = own.history ?? 0
    // A connection's channel has nobody to come back to it: a new connection has a new id.
    const retainMs = own.retainMs ?? (scope === 'connection' ? 0 : DEFAULT_RETAIN_MS)
    if (!Number.isSafeInteger(history) || history < 0) throw new RangeError(`topics.${path}.history must be a non-negative integer`)
    if (!Number.isSafeInteger(retainMs) || retainMs < 0) throw new RangeError(`topics.${path}.retainMs must be a non-negative integer`)
    topics.set(path, {
      topic,
      path,
      delivery: Object.freeze({ topic: path, policy, highWaterMark }),
      retention: Object.freeze({ history, retainMs }),
      publish,
      authorize: own.authorize,
      authorizePublish: own.authorizePublish,
      middleware,
      scope,
    })
  }
  return topics
}

interface HandlerTree {
  readonly [name: string]: Route['handler'] | HandlerTree
}

/** The handler at `path`, and the middleware attached on the way to it (middleware.ts). */
function handlerAt(api: RouterDef, handlers: HandlerTree, path: string, kind: string): Pick<Route, 'handler' | 'middleware'> {
  const { value, middleware } = walk(handlers, api, path, 'handlers')
  if (typeof value !== 'function') throw new TypeError(`missing handler for ${kind} "${path}"`)
  return { handler: value as Route['handler'], middleware }
}

function resolveRoutes(api: RouterDef, handlers: HandlerTree): { routes: Map<string, Route>; streams: Map<string, StreamRoute> } {
  const routes = new Map<string, Route>()
  // Every route has the same shape, `middleware` included when undefined, so the call path
  // sees one hidden class whether or not some routes have middleware.
  for (const [path, procedure] of flattenRouter(api)) {
    const { handler, middleware } = handlerAt(api, handlers, path, 'procedure')
    routes.set(path, { procedure, handler, middleware })
  }
  const streams = new Map<string, StreamRoute>()
  for (const [path, stream] of flatRouter(api).streams) {
    const { handler, middleware } = handlerAt(api, handlers, path, 'stream')
    streams.set(path, { stream, handler, middleware })
  }
  checkExtra(handlers, '', (path) => routes.has(path) || streams.has(path))
  return { routes, streams }
}

function checkExtra(tree: HandlerTree, prefix: string, known: (path: string) => boolean): void {
  for (const [name, value] of Object.entries(tree)) {
    const path = prefix === '' ? name : `${prefix}.${name}`
    if (typeof value === 'function') {
      if (!known(path)) throw new TypeError(`handler "${path}" matches no procedure or stream of the router`)
    } else if (typeof value === 'object' && value !== null) {
      checkExtra(value, path, known)
    }
  }
}
