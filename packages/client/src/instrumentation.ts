/**
 * The client's instrumentation seam: where tracing (`clientTelemetry()` of `@patchbay/otel`,
 * or your own) hears each request, and where it hands the request's W3C trace context to the
 * wire (docs/protocol.md §4.3), so the server's span joins the caller's trace.
 *
 * Zero cost when unused: without the `instrumentation` option, a request pays one `undefined`
 * check where it starts, one where its message is built and one where it ends, and allocates
 * nothing for it; no hook runs.
 */

/** What a request asks for: a call, a stream, a topic subscribe or a publish. */
export type RequestKind = 'call' | 'stream' | 'subscribe' | 'publish'

/** A request as the instrumentation sees it when the application makes it. */
export interface RequestStart {
  readonly kind: RequestKind
  /** The procedure's, stream's or topic's dotted path. */
  readonly path: string
}

/** One request being observed, from the application's call to its outcome. */
export interface RequestScope {
  /**
   * The W3C `traceparent` to send with the request (§4.3), or undefined to send none. Read
   * each time the request is sent: an idempotent call sent again after a reconnect carries
   * the same one.
   */
  readonly traceparent: string | undefined
  /** The W3C `tracestate` to send beside it, or undefined. */
  readonly tracestate: string | undefined
  /**
   * The request is over: it succeeded (`code` undefined) or failed with the error code the
   * caller sees (docs/protocol.md §6: the server's, or the client's own CANCELLED, TIMEOUT,
   * CONNECTION_LOST…). Called once. For a subscribe, "over" is the server's answer; for a
   * stream, its end.
   */
  end(code: string | undefined): void
}

/** The hooks; each is optional. */
export interface ClientInstrumentation {
  /**
   * The application made a request (synchronously, in its own call: a tracer reads its
   * active context here). Return a scope to be told when it ends, or undefined.
   */
  request?(request: RequestStart): RequestScope | undefined
}
