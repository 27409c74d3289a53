/**
 * The server's instrumentation seam: where tracing and metrics (`@patchbay/otel`, or your own)
 * hear what a server does. One object of optional hooks, given as `createServer`'s
 * `instrumentation` option; the server calls a hook where the event happens, beside the
 * `server.stats` counter it keeps for the same event, so the two never disagree.
 *
 * Zero cost when unused: without the option, each request, event and drop pays one
 * `undefined` check and allocates nothing; no hook runs. Hooks run synchronously on the hot
 * path: keep them cheap, and never throw (a hook that throws fails the request it observes).
 */
import type { ConnectionInfo } from './types.js'

/** What a request asks for: a call, a stream, a topic subscribe or a client's publish. */
export type RequestKind = 'call' | 'stream' | 'subscribe' | 'publish'

/** A request as the instrumentation sees it when it arrives (docs/protocol.md §4, §12, §13, §15). */
export interface RequestStart {
  readonly kind: RequestKind
  /** Its request id, unique among the connection's live requests (§4.1). */
  readonly id: number
  /** The procedure's, stream's or topic's dotted path, as sent (it may name nothing). */
  readonly path: string
  readonly connection: ConnectionInfo
  /**
   * The W3C `traceparent` the client sent (§4.3), unchecked beyond its length: a malformed
   * one is for the instrumentation to ignore. Undefined when none came.
   */
  readonly traceparent: string | undefined
  /** The W3C `tracestate` sent with it (§4.3), or undefined. */
  readonly tracestate: string | undefined
}

/** One request being observed, from its arrival to its answer. */
export interface RequestScope {
  /**
   * Runs the request's own work (validation, middleware, the handler's synchronous part)
   * inside `fn`, so a tracer can make its span the active one there: spans the handler makes
   * become its children. Must call `fn` once and return what it returns.
   */
  run<T>(fn: () => T): T
  /**
   * The request is over: answered with a result (`code` undefined) or with an error of `code`
   * (docs/protocol.md §6): CANCELLED when the client cancelled it, CONNECTION_LOST when its
   * connection closed first. Called once. For a subscribe, "over" is its answer, not the
   * subscription's end; for a stream, its final result or error.
   */
  end(code: string | undefined): void
}

/** The hooks; each is optional. */
export interface ServerInstrumentation {
  /**
   * A call, stream, subscribe or publish arrived (after its message was validated, before its
   * id or the in-flight limit is checked: a refusal ends it with its error code). Return a
   * scope to be told when it ends, or undefined to not follow this one.
   */
  request?(request: RequestStart): RequestScope | undefined
  /** A connection was accepted (it counts in `stats.connections`). */
  connectionOpen?(connection: ConnectionInfo): void
  /** A connection closed, with the WebSocket close code (docs/protocol.md §8). */
  connectionClose?(connection: ConnectionInfo, code: number): void
  /** One event of `topic` was handed to `count` subscribed connections of this process (§12). */
  delivered?(topic: string, count: number): void
  /**
   * Events for one connection were dropped by its backpressure policy (§14; counted in
   * `stats.dropped`). `topic` is undefined where one drop superseded another's held event.
   */
  dropped?(connection: ConnectionInfo, topic: string | undefined, count: number): void
  /**
   * The topic engine lost events of `topic` under its subscribers (§14): `missed` of them,
   * or undefined when the channel restarted in a new epoch and the count is unknown.
   */
  lag?(topic: string, missed: number | undefined): void
  /** A connection was closed as a slow consumer, 4507 (§14; counted in `stats.slowConsumers`). */
  slowConsumer?(connection: ConnectionInfo, reason: string): void
  /** A message was over the connection's rate limit (§9.1; counted in `stats.rateLimited`). */
  rateLimited?(connection: ConnectionInfo): void
}
