import type { IncomingMessage } from 'node:http'
import type { IdempotencyOptions } from './idempotency.js'
import type { FlowLimits } from './outbound.js'
import type { RateLimit } from './rate-limit.js'
import type { AsyncEngine, Engine, SyncEngine } from './engine.js'
import type { RetentionLimits } from './engines/memory.js'
import type { PubSubStats } from './pubsub.js'
import type { HistoryOptions, TopicHistory } from './history.js'
import type { ConnectionDetails } from './connections.js'
import type { TopicScope } from './topics.js'
import type { ServerInstrumentation } from './instrumentation.js'
import type {
  AnyProcedure,
  AnyStream,
  AnyTopic,
  BackpressurePolicy,
  InferStreamHandlerItem,
  InferStreamParsedInput,
  Encoding,
  InferTopicMessageInput,
  InferTopicParams,
  InferTopicParsedParams,
  InferTopicMessage,
  PublishPolicy,
  InferProcedureHandlerOutput,
  InferProcedureParsedInput,
  Limits,
  RouterDef,
} from '@patchbay/core'

/** A value or a promise of it. */
export type MaybePromise<T> = T | Promise<T>

/** What a handler knows about the connection its call came in on. */
export interface ConnectionInfo {
  /** Unique id of the connection (a nanoid), for logs and tracing. */
  readonly id: string
  /** The negotiated encoding. */
  readonly encoding: Encoding
}

/** What a handler receives. */
export interface HandlerOptions<TInput, TCtx> {
  /** The input, validated: the input schema's output type. */
  input: TInput
  /** The connection's context, made once by the `context` hook at the handshake. */
  ctx: TCtx
  /** Aborts when the client cancels the call, times out, or disconnects. */
  signal: AbortSignal
  /** The connection the call came in on. */
  connection: ConnectionInfo
  /**
   * Streams only: set when the client restarted this stream after a reconnect, to how many
   * items it already received. A handler that can skip them (a report's rows, a log from an
   * offset) resumes without duplicates; a live feed can ignore it. Always undefined for calls.
   */
  resumed?: { received: number } | undefined
}

/** The handler of procedure `P`. */
export type Handler<P, TCtx> = (
  options: HandlerOptions<InferProcedureParsedInput<P>, TCtx>,
) => MaybePromise<InferProcedureHandlerOutput<P>>

/**
 * The handler of stream `S`: an async generator (or any function returning an AsyncIterable)
 * of items. It is pulled only while the client has granted credit; `signal` aborts and the
 * generator's `finally` runs when the client stops, cancels or disconnects.
 */
export type StreamHandler<S, TCtx> = (options: StreamHandlerOptions<InferStreamParsedInput<S>, TCtx>) => AsyncIterable<InferStreamHandlerItem<S>>

/** What a stream's handler receives: a call's options, `resumed` included. */
export type StreamHandlerOptions<TInput, TCtx> = HandlerOptions<TInput, TCtx>

/** True when a router node holds at least one procedure or stream (topics need no handlers). */
export type HasProcedure<T> = T extends AnyProcedure | AnyStream
  ? true
  : T extends AnyTopic
    ? false
    : T extends RouterDef
      ? true extends { [K in keyof T]: HasProcedure<T[K]> }[keyof T]
        ? true
        : false
      : false

/**
 * One handler per procedure, in the router's shape: none missing, none extra (topics have
 * none). The kind of each entry is decided in the key clauses only, never around the
 * handler type: a conditional wrapped around `TCtx` stops TypeScript from carrying the
 * context hook's return type into handlers whose parameters are destructured.
 */
export type Handlers<R extends RouterDef, TCtx> = {
  [K in keyof R as R[K] extends AnyProcedure ? K : never]: Handler<R[K], TCtx>
} & {
  [K in keyof R as R[K] extends AnyStream ? K : never]: StreamHandler<R[K], TCtx>
} & {
  [K in keyof R as R[K] extends AnyProcedure | AnyStream ? never : HasProcedure<R[K]> extends true ? K : never]: Handlers<
    R[K] extends RouterDef ? R[K] : never,
    TCtx
  >
}

/** The server's options for one topic. */
export interface TopicOptions<T, TCtx> {
  /**
   * Decides whether a connection may subscribe to a channel; false answers FORBIDDEN.
   * @default everyone may subscribe
   */
  authorize?: (options: { params: InferTopicParsedParams<T>; ctx: TCtx; connection: ConnectionInfo }) => boolean | Promise<boolean>
  /**
   * Who may publish: only the server, or clients too.
   * @default the topic's own `publish` ('server' unless the router says otherwise)
   */
  publish?: PublishPolicy
  /**
   * Decides whether a client may publish this message (when `publish` is 'client').
   * @default every client may
   */
  authorizePublish?: (options: {
    params: InferTopicParsedParams<T>
    data: InferTopicMessage<T>
    ctx: TCtx
    connection: ConnectionInfo
  }) => boolean | Promise<boolean>
  /**
   * `'connection'`: every connection that subscribes gets a channel of its own, and the server
   * reaches one connection with `server.publishTo(connectionId, topic, params, message)`
   * (docs/guide/connections.md); `server.publish` and clients' `pub` are refused for it. Such a
   * channel cannot outlive its connection usefully, so `retainMs` defaults to 0 and `history`
   * must stay 0.
   * @default 'shared' (one channel per params, shared by every subscriber)
   */
  scope?: TopicScope
  /**
   * What to do with an event for a subscriber above `highWaterMark` (docs/protocol.md §14).
   * @default the topic's own `backpressure` ('queue' unless the router says otherwise)
   */
  backpressure?: BackpressurePolicy
  /**
   * Buffered bytes above which this topic's policy applies to a subscriber.
   * @default the server's `backpressure.highWaterMark`
   */
  highWaterMark?: number
  /**
   * Messages kept per channel so a client that reconnects resumes where it left off instead
   * of being told of a gap (docs/protocol.md §12.1). Costs memory: history × message size per
   * channel.
   * @default 0 (none kept: a returning client is told how many it missed)
   */
  history?: number
  /**
   * Milliseconds a channel outlives its last subscriber (its sequence number, and history if
   * any), so the only subscriber of a channel can come back after a dropped connection and
   * resume, or learn exactly how many messages it missed. 0 forgets a channel at once.
   * @default 60_000
   */
  retainMs?: number
}

/** Options per topic, in the router's shape; every entry optional (built like {@link Handlers}). */
export type TopicsOptions<R extends RouterDef, TCtx> = {
  [K in keyof R as R[K] extends AnyTopic ? K : never]?: TopicOptions<R[K], TCtx>
} & {
  [K in keyof R as R[K] extends AnyProcedure | AnyStream | AnyTopic ? never : K]?: TopicsOptions<R[K] extends RouterDef ? R[K] : never, TCtx>
}

/** What the `context` hook sees of the handshake. */
export interface HandshakeInfo {
  /** The HTTP upgrade request. */
  request: IncomingMessage
  /** The request URL, resolved against the Host header. */
  url: URL
  /** The request headers (lower-case names). */
  headers: IncomingMessage['headers']
  /** Cookies from the Cookie header. */
  cookies: Record<string, string>
  /** The subprotocols the client offered, in order. */
  subprotocols: string[]
  /** The subprotocol the server chose. */
  subprotocol: string
  /**
   * The credential a client offered as a `patchbay.auth.*` subprotocol (the client's `token`
   * option; browsers cannot set headers), decoded. Never logged by Patchbay.
   */
  token?: string
}

import type { Logger } from './logger.js'

/** Where a handler failure came from, for {@link ServerOptions.onError}. */
export interface ErrorInfo {
  /** Procedure path. */
  path: string
  /** Connection id. */
  connectionId: string
}

/** Options of `createServer`. */
export interface ServerOptions<R extends RouterDef, TCtx, E extends Engine = SyncEngine> {
  /**
   * Builds the connection's context once, at the handshake. Throwing a `PatchbayError`
   * refuses the upgrade with the matching HTTP status and its message (BAD_REQUEST 400,
   * UNAUTHORIZED 401, FORBIDDEN 403, NOT_FOUND 404, TOO_MANY_REQUESTS or RATE_LIMITED 429);
   * any other throw, a PatchbayError with another code included, refuses it with 500 and a
   * generic body (docs/protocol.md §2).
   * @default none: ctx is undefined
   */
  context?: (info: HandshakeInfo) => MaybePromise<TCtx>
  /** One handler per procedure of the router. */
  handlers: Handlers<R, NoInfer<TCtx>>
  /** Authorization and publish rules per topic. */
  topics?: TopicsOptions<R, NoInfer<TCtx>>
  /**
   * Origins allowed to connect (the `Origin` header, for example `https://app.example`), or
   * a predicate. Requests without an Origin header (non-browser clients) pass a list but
   * are handed to a predicate as `undefined`. Refusal: HTTP 403 before the upgrade.
   * @default any origin
   */
  origins?: readonly string[] | ((origin: string | undefined) => boolean)
  /**
   * Encodings the server accepts; the client's order of preference decides among them.
   * @default ['msgpack', 'json']
   */
  encodings?: readonly Encoding[]
  /** Receive-side limits; see `DEFAULT_LIMITS` in @patchbay/core. */
  limits?: Partial<Limits>
  /**
   * Outbound limits per connection (docs/protocol.md §14), on the memory its outbound queue
   * holds (each queued frame counted as its bytes plus FRAME_OVERHEAD, 512): the high-water
   * mark where a connection stops being read and topic policies apply, and the hard limit
   * where it closes with 4507. Defaults: 512 KiB and 8 MiB.
   */
  backpressure?: Partial<FlowLimits>
  /**
   * Inbound messages per connection (docs/protocol.md §9.1): a token bucket refilled at
   * `perSecond` up to `burst`. A request over it gets RATE_LIMITED; a connection that keeps
   * flooding until it owes a whole burst is closed with 4429. `false` turns it off.
   * @default { perSecond: 10_000, burst: 20_000 }
   */
  rateLimit?: Partial<RateLimit> | false
  /**
   * The dedupe window of idempotent calls (§4.2): how long outcomes are remembered and how
   * many (running ones included), and how many retries may wait for one run. Outcomes are
   * held in memory, so this bounds memory too (docs/protocol.md §9.1), unless the engine
   * keeps the window in its store (`Engine.dedupe`, e.g. `@patchbay/redis`: across nodes).
   * @default { windowMs: 60_000, maxKeys: 10_000, maxWaitersPerKey: 64 }
   */
  idempotency?: Partial<IdempotencyOptions>
  /**
   * The bound on channels kept for returning subscribers (each topic's `retainMs`), over the
   * whole server: past `maxChannels` of them, or `maxBytes` of their history, the one that
   * lost its last subscriber longest ago is forgotten first (a subscriber coming back to it
   * finds another epoch, docs/protocol.md §12.1); channels with subscribers never are.
   * `topicStats.evictions` counts them. These bound the default memory engine; with
   * `engine`, pass them to `createMemoryEngine({ retention })` instead (both is an error).
   * @default { maxChannels: 10_000, maxBytes: 33_554_432 } (32 MiB)
   */
  retention?: Partial<RetentionLimits>
  /**
   * Where topic events are stored and how they travel between server processes (engine.ts):
   * the memory engine keeps them in this process; `@patchbay/redis` (to come) shares them
   * between processes. Ordering, resume, gaps and backpressure are Patchbay's with any engine.
   * One engine serves one server.
   * @default createMemoryEngine({ retention })
   */
  engine?: E
  /**
   * With an asynchronous engine (Redis), a held channel that received no publication for this
   * many milliseconds reads the engine's latest seq, so a publication lost on its way with
   * nothing after it still reaches its subscribers: from history, or as a counted `lag`, or
   * as a new epoch's notice (docs/protocol.md §12.1). Active channels cost nothing; idle ones
   * one read each per interval, spread over it. 0 turns it off; the memory engine needs none.
   * @default 40_000 (DEFAULT_POSITION_CHECK_MS, as Centrifugo's ClientChannelPositionCheckDelay)
   */
  positionCheckMs?: number
  /**
   * Open connections at most; an upgrade beyond it is refused with HTTP 503.
   * @default 10_000
   */
  maxConnections?: number
  /**
   * Milliseconds a handshake may take, from the socket's connection: the HTTP request's
   * headers and the `context` hook share it. A slower one is answered HTTP 408 and its socket
   * dropped, also a peer that trickles its request or sends nothing (timed per socket, not
   * by Node's 30 s check). On a server passed to `attach()`, only the first request's
   * headers and upgrades are timed, never plain requests (docs/protocol.md §9.1).
   * @default 10_000
   */
  handshakeTimeout?: number
  /**
   * Handshakes in progress at most: upgrades whose `context` hook runs, and (on the server
   * made by `listen()`) sockets still sending their request. Past it a new one is refused
   * with HTTP 503 at once; with `handshakeTimeout` this bounds what slow or silent peers
   * hold. On a server passed to `attach()` only upgrades count: its other sockets may be
   * the application's plain requests (docs/protocol.md §9.1).
   * @default 1_000
   */
  maxHandshakes?: number
  /**
   * When a connection's credentials expire, from its context (epoch milliseconds or a Date;
   * undefined: never). At that moment the server closes it with **4401**; a client with a
   * `token` function reconnects with a fresh token and resumes its subscriptions (§8).
   * @default none
   */
  expiresAt?: (ctx: NoInfer<TCtx>) => number | Date | undefined
  /**
   * Validate handler results against the output schema; a failure becomes INTERNAL.
   * @default false
   */
  validateOutput?: boolean
  /**
   * Send the message of errors that are not `PatchbayError` (never the stack).
   * @default false: such errors reach the client as INTERNAL "Internal server error"
   */
  exposeErrors?: boolean
  /**
   * Sees every handler failure that reaches the client as INTERNAL, with its original error.
   * Runs beside the `logger`, which logs the same failure (set `logger: false` if `onError`
   * does the logging).
   * @default none
   */
  onError?: (error: unknown, info: ErrorInfo) => void
  /**
   * Where the server logs what an operator needs (docs/guide/logging.md has every line): a
   * handler's (or hook's) unexpected exception at `error`, protocol violations and slow
   * consumers at `warn` with their close code, each connection's close at `info`, its open at
   * `debug`; every line about a connection has its `connectionId`. A `PatchbayError` a handler
   * throws is an answer, not logged. Pino's shape (`logger.error(fields, message)`): pass a
   * pino logger as it is; its `isLevelEnabled` is asked before a line is built. Never logs a
   * token, a cookie, a header value or an input. `false` logs nothing.
   * @default a console logger: `error` and `warn` to the console, `info` and `debug` dropped
   */
  logger?: Logger | false
  /**
   * Hooks that tracing and metrics hear the server through: `serverTelemetry()` of
   * `@patchbay/otel`, or your own (docs/guide/observability.md). Without it no hook runs and
   * nothing is allocated for it.
   * @default none
   */
  instrumentation?: ServerInstrumentation
  /**
   * Called once when a connection has closed, after its subscriptions were removed and its
   * handlers' signals aborted: the place to clean up per-connection state (presence…).
   * @default none
   */
  onClose?: (event: { connection: ConnectionInfo; ctx: NoInfer<TCtx>; code: number; reason: string }) => void
  /**
   * Milliseconds between WebSocket ping frames to every connection; a peer that has not
   * answered the previous ping with a pong by the next one is terminated, which frees its
   * subscriptions and aborts its handlers (docs/protocol.md §7). 0 disables heartbeats.
   * One timer serves all connections; pongs that arrived while the event loop was stalled
   * past a beat are read before the beat judges anyone.
   * @default 30_000
   */
  heartbeatInterval?: number
  /**
   * How long `close()` waits for calls in flight to finish, and then for clients to finish
   * the closing handshake before it terminates their sockets, in milliseconds (each). It also
   * bounds the closing handshake of any connection the server closes itself (a slow
   * consumer, a protocol violation): a peer that does not answer is dropped after it.
   * @default 5_000
   */
  closeTimeout?: number
}

/** Counters a server keeps; they only grow. */
export interface ServerStats {
  /** Connections accepted since start. */
  connections: number
  /** Handshakes refused (origin, subprotocol, context, shutdown). */
  refused: number
  /**
   * Connections closed for a protocol violation (a 4400, 4409, 1003, 4429 or 4406 close of
   * the server's, or a framing fault `ws` closed with 1002, 1007, 1008 or 1009): each such
   * connection counts once, however many bad frames it sent, and a connection the server was
   * already closing for another reason (a slow consumer, shutdown) is not counted when the
   * peer sends a bad frame before its close frame.
   */
  violations: number
  /** Calls answered (result or error). */
  calls: number
  /** Cancels for calls no longer in flight (the result crossed the cancel). */
  lateCancels: number
  /** Connections terminated because they missed a heartbeat. */
  heartbeatTimeouts: number
  /** Times a connection stopped being read because its outbound buffer passed the high-water mark. */
  pauses: number
  /** Topic events dropped or replaced by a newer one for a congested subscriber (`drop`, `latest`). */
  dropped: number
  /** Connections closed with 4507 SLOW_CONSUMER. */
  slowConsumers: number
  /** Messages over a connection's rate limit (refused requests, and the closing flood). */
  rateLimited: number
  /** Idempotent calls answered from the dedupe window instead of running again. */
  deduplicated: number
}

/** Options of {@link PatchbayServer.listen}. */
export interface ListenOptions {
  /** @default 0 (any free port) */
  port?: number
  /** @default '127.0.0.1' */
  host?: string
  /**
   * Connections the kernel holds completed but not yet accepted (the listen backlog; Linux
   * caps it at `net.core.somaxconn`). A connection past it is dropped and its client only
   * tries again after TCP's retransmission timeout (1 s, then 3 s, 7 s...): in a reconnect
   * wave after a deploy, Node's default of 511 turns thousands of clients' next attempt into
   * one to three seconds of waiting. A larger queue costs nothing while it is empty, and
   * `handshakeTimeout` and `maxHandshakes` still bound what the accepted sockets hold. A
   * server passed to `attach()` keeps the backlog its own `listen()` was given.
   * @default 4096
   */
  backlog?: number
}

/** Options of {@link PatchbayServer.attach}. */
export interface AttachOptions {
  /** Only upgrade requests for this path; others are left to other listeners. @default any path */
  path?: string
}

/**
 * What `server.publish` returns on engine `E`: the number of connections reached, at once with
 * a synchronous engine (the memory engine), or a promise of it with an asynchronous one (it
 * resolves once the engine assigned the event its seq; the count is this process's connections).
 */
export type Published<E extends Engine> = E extends AsyncEngine ? Promise<number> : number

/**
 * What `server.history` returns on engine `E`: the channel's history at once with a synchronous
 * engine (the memory engine), a promise of it with an asynchronous one.
 */
export type HistoryResult<E extends Engine, T> = E extends AsyncEngine ? Promise<TopicHistory<T>> : TopicHistory<T>

/**
 * A running Patchbay server, on topic engine `E` (the memory engine unless `engine` said
 * otherwise), whose connections have context `TCtx`, serving router `R`.
 */
export interface PatchbayServer<E extends Engine = SyncEngine, TCtx = unknown, R extends RouterDef = RouterDef> {
  /**
   * Exists in the type only, never at run time (as `'~context'` of middleware): carries the
   * router's type to `@patchbay/server/testing`, so `createCaller(server)` is typed.
   */
  readonly '~router'?: R
  /** Starts an HTTP server of its own that upgrades every request. Resolves with the bound address. */
  listen(options?: ListenOptions): Promise<{ port: number; host: string }>
  /** Serves WebSocket upgrades on an existing `http.Server` (or `https.Server`). */
  attach(server: import('node:http').Server, options?: AttachOptions): void
  /** Handles one upgrade request, for frameworks that route upgrades themselves. */
  handleUpgrade(request: IncomingMessage, socket: import('node:stream').Duplex, head: Buffer): void
  /**
   * Publishes `message` to the channel of `topic` with `params`. Params and message are
   * validated once, here (a bad publish throws BAD_REQUEST at the publisher); the event is
   * encoded once per codec in use. Returns the number of connections it was sent to (a
   * promise of it with an asynchronous engine, see {@link Published}).
   * Topic schemas used here must be synchronous.
   */
  publish<T extends AnyTopic>(topic: T, params: InferTopicParams<T>, message: InferTopicMessageInput<T>): Published<E>
  /**
   * The events the channel of `topic` with `params` still keeps (its `history` option), with
   * its epoch and latest seq: the newest `limit`, or the first `limit` after `since`, oldest
   * first, typed as the topic's messages. Params are validated as for `publish` (BAD_REQUEST);
   * with an asynchronous engine it rejects with UNAVAILABLE while the engine is unreachable.
   */
  history<T extends AnyTopic>(topic: T, params: InferTopicParams<T>, options?: HistoryOptions): HistoryResult<E, InferTopicMessage<T>>
  /**
   * Publishes `message` to one connection: to its channel of `topic` with `params`, a topic
   * whose server options say `scope: 'connection'` (a TypeError otherwise). Validated as for
   * `publish`. Returns the connections of this process it reached: 1 when connection
   * `connectionId` is subscribed there, else 0 (with an asynchronous engine the event also
   * reaches that connection on another process, which counts it there).
   */
  publishTo<T extends AnyTopic>(connectionId: string, topic: T, params: InferTopicParams<T>, message: InferTopicMessageInput<T>): Published<E>
  /** A snapshot of this process's open connections with their context, oldest first. */
  connections(): ConnectionDetails<TCtx>[]
  /** One open connection of this process by id, or undefined. */
  connection(id: string): ConnectionDetails<TCtx> | undefined
  /**
   * Closes connection `id` with `code` and `reason` (an admin's kick): its calls and streams
   * are aborted and its subscriptions end, as for any close; `onClose` runs. `code` is 1000,
   * 1001, 1012, 4401, 4403, or an application code (4000–4399, 4600–4999); others throw a
   * RangeError (docs/protocol.md §8). Patchbay's client does not reconnect after 1000, 4401
   * (without a token function) and 4403; it does after the others. False when no connection
   * of this process has that id.
   * @default reason ''
   */
  disconnect(id: string, code: number, reason?: string): boolean
  /** Channels and subscriptions now, and event frames encoded since start. */
  readonly topicStats: Readonly<PubSubStats>
  /** Open connections. */
  readonly connectionCount: number
  /** Counters. */
  readonly stats: Readonly<ServerStats>
  /**
   * Stops accepting connections, lets calls in flight finish (up to `closeTimeout`), then
   * closes every connection with 1001 and resolves when they are closed (terminating those
   * that do not finish the closing handshake within another `closeTimeout`).
   */
  close(): Promise<void>
}
