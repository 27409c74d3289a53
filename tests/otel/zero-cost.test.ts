/**
 * Zero cost when unused (docs/guide/observability.md): with no `instrumentation` on the server
 * or the client, nothing reaches OpenTelemetry, even with an SDK registered globally and a span
 * active around the calls, and no trace context goes on the wire. Structural, not timed: the
 * bench's paired RPC run (bench/src/tools/inproc.js) measures the cost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { context, metrics, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics'
import { createServer, type RequestStart } from '@patchbay/server'
import { createClient } from '@patchbay/client'
import { api } from './support.js'

const spans = new InMemorySpanExporter()
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] })
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 })
const meterProvider = new MeterProvider({ readers: [reader] })

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  trace.setGlobalTracerProvider(tracerProvider)
  metrics.setGlobalMeterProvider(meterProvider)
})
afterAll(async () => {
  trace.disable()
  metrics.disable()
  context.disable()
  await tracerProvider.shutdown()
  await meterProvider.shutdown()
})

/** Runs a call, a stream, a subscribe and a publish through `url` inside an active span. */
async function workload(url: string): Promise<void> {
  const client = createClient(api, { url, WebSocket, encodings: ['json'], reconnect: false })
  try {
    await trace.getTracer('app').startActiveSpan('around', async (span) => {
      await client.math.add({ a: 1, b: 2 })
      for await (const n of client.count({ to: 2 })) expect(n).toBeGreaterThan(0)
      const heard = new Promise((resolve) => client.chat.room.subscribe({ room: 'z' }, resolve))
      await client.chat.room.publish({ room: 'z' }, { text: 'hi' })
      await heard
      span.end()
    })
  } finally {
    await client.close()
  }
}

const handlers = {
  math: { add: ({ input }: { input: { a: number; b: number } }) => input.a + input.b },
  whoami: () => ({ traceId: '', spanId: '' }),
  fail: { forbidden: () => null },
  hold: () => null,
  async *count({ input }: { input: { to: number } }) {
    for (let n = 1; n <= input.to; n++) yield n
  },
}

describe('without instrumentation', () => {
  it('nothing reaches OpenTelemetry but the application\'s own span, however much the server and client do', async () => {
    const server = createServer(api, { handlers })
    const { port } = await server.listen()
    await workload(`ws://127.0.0.1:${port}`)
    await server.close()
    expect(spans.getFinishedSpans().map((span) => span.name)).toEqual(['around'])
    await reader.forceFlush()
    expect(metricExporter.getMetrics().flatMap((resource) => resource.scopeMetrics)).toEqual([])
  })

  it('a client without instrumentation sends no trace context, even inside an active span (§4.3)', async () => {
    const seen: RequestStart[] = []
    // Only `request`: the server hears what each request carried and follows none of them.
    const server = createServer(api, { handlers, instrumentation: { request: (request) => void seen.push(request) } })
    const { port } = await server.listen()
    await workload(`ws://127.0.0.1:${port}`)
    await server.close()
    expect(seen.map((request) => request.kind).sort()).toEqual(['call', 'publish', 'stream', 'subscribe'])
    for (const request of seen) expect([request.traceparent, request.tracestate]).toEqual([undefined, undefined])
  })
})
