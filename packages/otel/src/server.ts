/**
 * `serverTelemetry()`: the `instrumentation` of a Patchbay server, as OpenTelemetry spans and
 * metrics. One SERVER span per call, stream, subscribe and publish, a child of the client's
 * span when the request carried its W3C trace context (docs/protocol.md §4.3), else the root
 * of a new trace; the span is active while the request's own work runs, so spans the handler
 * makes are its children.
 */
import { context, metrics, SpanKind, SpanStatusCode, trace, type Context, type MeterProvider, type Span, type Tracer, type TracerProvider } from '@opentelemetry/api'
import type { RequestScope, RequestStart, ServerInstrumentation } from '@patchbay/server'
import { ATTR_ERROR_TYPE, ATTR_PATCHBAY_ENCODING, requestAttributes, spanName } from './attributes.js'
import { ServerMetrics } from './metrics.js'
import { extractParent } from './propagation.js'
import { INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION } from './version.js'

/** Options of {@link serverTelemetry}. */
export interface ServerTelemetryOptions {
  /**
   * Where spans go; `false` makes none.
   * @default the global one (`trace.getTracerProvider()`), a no-op until an SDK registers one
   */
  tracerProvider?: TracerProvider | false
  /**
   * Where metrics go; `false` records none.
   * @default the global one (`metrics.getMeterProvider()`), a no-op until an SDK registers one
   */
  meterProvider?: MeterProvider | false
}

/** A clock in seconds for durations: `performance` exists in Node and in browsers. */
const now = (): number => performance.now() / 1000

/** One request followed: its span (if tracing) and what its metrics need at the end. */
class ServerScope implements RequestScope {
  private readonly started = now()

  constructor(
    private readonly kind: string,
    private readonly path: string,
    private readonly span: Span | undefined,
    private readonly active: Context | undefined,
    private readonly metrics: ServerMetrics | undefined,
  ) {}

  run<T>(fn: () => T): T {
    return this.active === undefined ? fn() : context.with(this.active, fn)
  }

  end(code: string | undefined): void {
    const span = this.span
    if (span !== undefined) {
      if (code !== undefined) {
        span.setAttribute(ATTR_ERROR_TYPE, code)
        span.setStatus({ code: SpanStatusCode.ERROR, message: code })
      }
      span.end()
    }
    this.metrics?.ended(this.kind, this.path, code, now() - this.started)
  }
}

/**
 * Tracing and metrics for `createServer({ instrumentation: serverTelemetry() })`. Spans carry
 * `rpc.system` = `patchbay`, `rpc.service` and `rpc.method` from the path, `patchbay.kind`,
 * and on failure the error code as `error.type` and as the ERROR status's message; never an
 * input, params, data or a token.
 */
export function serverTelemetry(options: ServerTelemetryOptions = {}): ServerInstrumentation {
  const tracerProvider = options.tracerProvider ?? trace.getTracerProvider()
  const meterProvider = options.meterProvider ?? metrics.getMeterProvider()
  const tracer: Tracer | undefined = tracerProvider === false ? undefined : tracerProvider.getTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION)
  const measured = meterProvider === false ? undefined : new ServerMetrics(meterProvider.getMeter(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION))
  const instrumentation: ServerInstrumentation = {
    request(request: RequestStart): RequestScope {
      if (tracer === undefined) return new ServerScope(request.kind, request.path, undefined, undefined, measured)
      // A malformed or absent traceparent extracts to the root context: a new trace.
      const parent = extractParent(request)
      const attributes = requestAttributes(request.kind, request.path)
      attributes[ATTR_PATCHBAY_ENCODING] = request.connection.encoding
      const span = tracer.startSpan(spanName(request.path), { kind: SpanKind.SERVER, attributes }, parent)
      return new ServerScope(request.kind, request.path, span, trace.setSpan(parent, span), measured)
    },
  }
  if (measured === undefined) return instrumentation
  return {
    ...instrumentation,
    connectionOpen: (connection) => measured.opened(connection.encoding),
    connectionClose: (connection) => measured.closed(connection.encoding),
    delivered: (topic, count) => measured.delivered(topic, count),
    dropped: (_connection, topic, count) => measured.dropped(topic, count),
    lag: (topic, missed) => measured.lag(topic, missed),
    slowConsumer: () => measured.slowConsumer(),
    rateLimited: () => measured.rateLimited(),
  }
}
