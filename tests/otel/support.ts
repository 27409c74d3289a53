/**
 * A real Patchbay server on 127.0.0.1 port 0 with `serverTelemetry()` installed, exporting to
 * the SDK's in-memory span exporter and a manual metric reader, and clients with
 * `clientTelemetry()` on the same tracer provider.
 */
import WebSocket from 'ws'
import { trace, type SpanContext } from '@opentelemetry/api'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics'
import { PatchbayError, type Encoding } from '@patchbay/core'
import { createServer, type PatchbayServer, type ServerOptions } from '@patchbay/server'
import { createClient, type Client } from '@patchbay/client'
import { clientTelemetry, serverTelemetry } from '@patchbay/otel'
import { api } from './api.js'
import { codec } from '../support/codecs.js'

export { api }

export interface Deferred<T = void> {
  promise: Promise<T>
  resolve: (value: T) => void
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((res) => (resolve = res))
  return { promise, resolve }
}

export interface Telemetry {
  url: string
  server: PatchbayServer
  spans: InMemorySpanExporter
  tracerProvider: BasicTracerProvider
  meterProvider: MeterProvider
  reader: MetricReader
  metricExporter: InMemoryMetricExporter
  /** Resolves when `hold`'s handler has started; `aborted` when its signal aborted. */
  holding: Deferred
  aborted: Deferred<unknown>
  client(encoding: Encoding): Client<typeof api>
  close(): Promise<void>
}

type Extra = Partial<Pick<ServerOptions<typeof api, undefined>, 'rateLimit' | 'backpressure' | 'instrumentation' | 'topics'>>

export async function startTelemetry(extra: Extra = {}): Promise<Telemetry> {
  const spans = new InMemorySpanExporter()
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] })
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  // Read on demand (forceFlush) only: the interval is far beyond any test.
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 })
  const meterProvider = new MeterProvider({ readers: [reader] })
  const holding = deferred()
  const aborted = deferred<unknown>()
  const server = createServer(api, {
    instrumentation: serverTelemetry({ tracerProvider, meterProvider }),
    ...extra,
    handlers: {
      math: { add: ({ input }) => input.a + input.b },
      whoami: () => {
        const context: SpanContext | undefined = trace.getActiveSpan()?.spanContext()
        return { traceId: context?.traceId ?? '', spanId: context?.spanId ?? '' }
      },
      fail: {
        forbidden: () => {
          throw new PatchbayError('FORBIDDEN', 'not yours')
        },
      },
      hold: ({ signal }) =>
        new Promise<never>(() => {
          signal.addEventListener('abort', () => aborted.resolve(signal.reason))
          holding.resolve()
        }),
      async *count({ input }) {
        for (let n = 1; n <= input.to; n++) yield n
      },
    },
  })
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
  const url = `ws://127.0.0.1:${port}`
  const clients: Client<typeof api>[] = []
  return {
    url,
    server,
    spans,
    tracerProvider,
    meterProvider,
    reader,
    metricExporter,
    holding,
    aborted,
    client(encoding) {
      const client = createClient(api, { url, WebSocket, encodings: [codec(encoding)], reconnect: false, instrumentation: clientTelemetry({ tracerProvider }) })
      clients.push(client)
      return client
    },
    async close() {
      await Promise.all(clients.map((client) => client.close()))
      await server.close()
      await meterProvider.shutdown()
      await tracerProvider.shutdown()
    },
  }
}

/** The finished spans of one kind ('server'/'client' by SpanKind number), by name. */
export function finished(spans: InMemorySpanExporter, kind: number): ReadableSpan[] {
  return spans.getFinishedSpans().filter((span) => span.kind === kind)
}

/** A metric's data points as the reader sees them now (cumulative). */
export async function points(t: Telemetry, name: string): Promise<{ attributes: Record<string, unknown>; value: unknown }[]> {
  await t.reader.forceFlush()
  const latest = t.metricExporter.getMetrics().at(-1)
  const metric = latest?.scopeMetrics.flatMap((scope) => scope.metrics).find((found) => found.descriptor.name === name)
  return (metric?.dataPoints ?? []).map((point) => ({ attributes: { ...point.attributes }, value: point.value }))
}
