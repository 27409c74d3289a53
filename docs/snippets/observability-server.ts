// observability-server.ts: a server's spans and metrics through OpenTelemetry, metrics scraped by Prometheus
import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter } from '@opentelemetry/sdk-trace-base'
import { MeterProvider } from '@opentelemetry/sdk-metrics'
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus'
import { createServer } from '@patchbay/server'
import { serverTelemetry } from '@patchbay/otel'
import { api } from './api.js'

// The SDK, as any OpenTelemetry app sets it up (NodeSDK does the same in one call). The
// context manager is what makes the request's span the active one inside its handler.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(new ConsoleSpanExporter())] })
trace.setGlobalTracerProvider(tracerProvider)
// Serves http://localhost:9464/metrics in Prometheus's text format.
const meterProvider = new MeterProvider({ readers: [new PrometheusExporter({ port: 9464 })] })

const server = createServer(api, {
  // Both providers are optional: without them, the global ones are used.
  instrumentation: serverTelemetry({ tracerProvider, meterProvider }),
  handlers: {
    math: {
      add: ({ input }) =>
        // The request's span is active here: this span is its child, in the caller's trace.
        trace.getTracer('app').startActiveSpan('sum', (span) => {
          span.end()
          return input.a + input.b
        }),
    },
    me: () => ({ user: null }),
  },
})
await server.listen({ port: 3000 })
