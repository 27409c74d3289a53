// observability-client.ts: a browser's span and the server's span in one trace
import { context, trace } from '@opentelemetry/api'
import { BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter } from '@opentelemetry/sdk-trace-base'
import { createClient } from '@patchbay/client'
import { clientTelemetry } from '@patchbay/otel'
import { api } from './api.js'

const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(new ConsoleSpanExporter())] })

const client = createClient(api, {
  url: `wss://${location.host}/ws`,
  // Each call gets a CLIENT span, and its W3C traceparent travels with the call.
  instrumentation: clientTelemetry({ tracerProvider }),
})

// A span of the page's own is the parent of the call's span when it is the active one.
const tracer = tracerProvider.getTracer('app')
const checkout = tracer.startSpan('checkout')
export const total = await context.with(trace.setSpan(context.active(), checkout), () => client.math.add({ a: 40, b: 2 }))
checkout.end()
