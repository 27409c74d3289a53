/**
 * W3C trace context on the wire (docs/protocol.md §4.3), read and written with the SDK's own
 * `W3CTraceContextPropagator` rather than by hand: it validates `traceparent` (version,
 * lengths, hex, the all-zero ids) and `tracestate` (its member grammar and the 32-member
 * limit) as the W3C specification says, and a malformed value extracts to nothing, which
 * starts a new trace. The wire format is W3C by protocol, so it is always this propagator,
 * never whichever one the application registered globally.
 */
import { ROOT_CONTEXT, type Context, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'

/** The two fields a request may carry. */
export interface TraceFields {
  traceparent?: string | undefined
  tracestate?: string | undefined
}

const propagator = new W3CTraceContextPropagator()

const getter: TextMapGetter<TraceFields> = {
  keys: () => ['traceparent', 'tracestate'],
  get: (carrier, key) => (key === 'traceparent' ? carrier.traceparent : key === 'tracestate' ? carrier.tracestate : undefined),
}

const setter: TextMapSetter<TraceFields> = {
  set: (carrier, key, value) => {
    if (key === 'traceparent') carrier.traceparent = value
    else if (key === 'tracestate') carrier.tracestate = value
  },
}

/** The remote parent a request's fields name, on the root context; the root context itself when none is valid. */
export function extractParent(fields: TraceFields): Context {
  if (fields.traceparent === undefined) return ROOT_CONTEXT
  return propagator.extract(ROOT_CONTEXT, fields, getter)
}

/** The fields that carry `context`'s span to the server; empty when it has no valid span. */
export function injectFields(context: Context): TraceFields {
  const fields: TraceFields = {}
  propagator.inject(context, fields, setter)
  return fields
}
