/**
 * `clientTelemetry()`: the `instrumentation` of a Patchbay client, as OpenTelemetry spans.
 * One span per call, stream and subscribe (CLIENT) and publish (PRODUCER), a child of the
 * context active where the application made the request; its W3C trace context goes to the
 * server with the request (docs/protocol.md §4.3), so the server's span joins the trace.
 * Runs in browsers and in Node.
 */
import { context, SpanKind, SpanStatusCode, trace, type Span, type Tracer, type TracerProvider } from '@opentelemetry/api'
import type { ClientInstrumentation, RequestScope, RequestStart } from '@patchbay/client'
import { ATTR_ERROR_TYPE, requestAttributes, spanName } from './attributes.js'
import { injectFields } from './propagation.js'
import { INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION } from './version.js'

/** Options of {@link clientTelemetry}. */
export interface ClientTelemetryOptions {
  /**
   * Where spans go.
   * @default the global one (`trace.getTracerProvider()`), a no-op until an SDK registers one
   */
  tracerProvider?: TracerProvider
}

class ClientScope implements RequestScope {
  constructor(
    private readonly span: Span,
    readonly traceparent: string | undefined,
    readonly tracestate: string | undefined,
  ) {}

  end(code: string | undefined): void {
    if (code !== undefined) {
      this.span.setAttribute(ATTR_ERROR_TYPE, code)
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: code })
    }
    this.span.end()
  }
}

/**
 * Tracing for `createClient(api, { instrumentation: clientTelemetry() })`. Spans carry the
 * same attributes as the server's (`rpc.system` = `patchbay`, `rpc.service`, `rpc.method`,
 * `patchbay.kind`) and, on failure, the error code the caller saw (CANCELLED, TIMEOUT… or the
 * server's) as `error.type` and as the ERROR status's message.
 */
export function clientTelemetry(options: ClientTelemetryOptions = {}): ClientInstrumentation {
  const tracer: Tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION)
  return {
    request(request: RequestStart): RequestScope {
      const parent = context.active()
      const kind = request.kind === 'publish' ? SpanKind.PRODUCER : SpanKind.CLIENT
      const span = tracer.startSpan(spanName(request.path), { kind, attributes: requestAttributes(request.kind, request.path) }, parent)
      // A span that is not recording (no SDK, or not sampled) still carries a valid context
      // when it has a parent: the server joins that trace, as W3C asks.
      const fields = injectFields(trace.setSpan(parent, span))
      return new ClientScope(span, fields.traceparent, fields.tracestate)
    },
  }
}
