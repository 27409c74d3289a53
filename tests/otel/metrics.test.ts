/**
 * Metrics through the OpenTelemetry API, on real sockets (docs/guide/observability.md): one
 * test per instrument, asserting the values and their attributes, and that each total agrees
 * with the `server.stats` counter kept at the same point.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type Histogram } from '@opentelemetry/sdk-metrics'
import {
  METRIC_CONNECTIONS,
  METRIC_DELIVERIES,
  METRIC_DROPPED,
  METRIC_LAGS,
  METRIC_RATE_LIMITED,
  METRIC_REQUEST_DURATION,
  METRIC_REQUESTS,
  METRIC_SLOW_CONSUMERS,
} from '@patchbay/otel'
import { CloseCode, ErrorCode } from '@patchbay/core'
import { createServer } from '@patchbay/server'
import { serverTelemetry } from '@patchbay/otel'
import { connectRaw, type RawClient } from '../conformance/support.js'
import { FakeEngine, NO_FAULTS } from '../server/fake-engine.js'
import { api, points, startTelemetry, type Telemetry } from './support.js'

let t: Telemetry | undefined
const raws: RawClient[] = []
afterEach(async () => {
  for (const raw of raws.splice(0)) raw.ws.terminate()
  await t?.close()
  t = undefined
})

async function raw(url: string, encoding: 'json' | 'msgpack' = 'json'): Promise<RawClient> {
  const client = await connectRaw(url, encoding)
  raws.push(client)
  return client
}

const sum = (found: { value: unknown }[]): number => found.reduce((total, point) => total + (point.value as number), 0)

describe('server metrics', () => {
  it('connections: an up-down counter by encoding, down again when one closes', async () => {
    t = await startTelemetry()
    const json = await raw(t.url, 'json')
    await raw(t.url, 'msgpack')
    await raw(t.url, 'msgpack')
    // The server accepted all three once each has been answered.
    for (const client of raws) {
      client.send({ t: 'ping' })
      await client.next()
    }
    expect(await points(t, METRIC_CONNECTIONS)).toEqual(
      expect.arrayContaining([
        { attributes: { 'patchbay.encoding': 'json' }, value: 1 },
        { attributes: { 'patchbay.encoding': 'msgpack' }, value: 2 },
      ]),
    )
    json.ws.close()
    await json.closed
    await expect.poll(async () => (await points(t as Telemetry, METRIC_CONNECTIONS)).find((point) => point.attributes['patchbay.encoding'] === 'json')?.value).toBe(0)
    expect(t.server.stats.connections).toBe(3)
  })

  it('requests: counted by kind, path and code; a made-up path under (unknown)', async () => {
    t = await startTelemetry()
    const client = t.client('json')
    await client.math.add({ a: 1, b: 1 })
    await client.math.add({ a: 2, b: 2 })
    await expect(client.fail.forbidden()).rejects.toMatchObject({ code: 'FORBIDDEN' })
    const peer = await raw(t.url)
    peer.send({ t: 'call', id: 1, path: 'no.such.path', input: null })
    expect(await peer.next()).toMatchObject({ error: { code: ErrorCode.NOT_FOUND } })
    const found = await points(t, METRIC_REQUESTS)
    expect(found).toEqual(
      expect.arrayContaining([
        { attributes: { 'patchbay.kind': 'call', 'patchbay.path': 'math.add', 'patchbay.code': 'OK' }, value: 2 },
        { attributes: { 'patchbay.kind': 'call', 'patchbay.path': 'fail.forbidden', 'patchbay.code': 'FORBIDDEN' }, value: 1 },
        { attributes: { 'patchbay.kind': 'call', 'patchbay.path': '(unknown)', 'patchbay.code': 'NOT_FOUND' }, value: 1 },
      ]),
    )
    expect(found).toHaveLength(3)
    expect(sum(found)).toBe(t.server.stats.calls)
  })

  it('request duration: a histogram in seconds per path and code', async () => {
    t = await startTelemetry()
    const client = t.client('msgpack')
    for (let n = 0; n < 3; n++) await client.math.add({ a: n, b: n })
    const [point] = (await points(t, METRIC_REQUEST_DURATION)).filter((found) => found.attributes['patchbay.path'] === 'math.add')
    const histogram = point?.value as Histogram
    expect(point?.attributes).toEqual({ 'patchbay.kind': 'call', 'patchbay.path': 'math.add', 'patchbay.code': 'OK' })
    expect(histogram.count).toBe(3)
    expect(histogram.sum).toBeGreaterThan(0)
    // Seconds, not milliseconds: three tiny sums on loopback stay far below one second.
    expect(histogram.sum).toBeLessThan(3)
  })

  it('topic deliveries: each event counted once per subscribed connection', async () => {
    t = await startTelemetry()
    const one = t.client('json')
    const two = t.client('msgpack')
    const heard: unknown[] = []
    const both = new Promise<void>((resolve) => {
      const hear = (message: unknown): void => {
        heard.push(message)
        if (heard.length === 4) resolve()
      }
      one.chat.room.subscribe({ room: 'a' }, hear)
      two.chat.room.subscribe({ room: 'a' }, hear)
    })
    await Promise.all([one.connect(), two.connect()])
    await expect.poll(() => t?.server.topicStats.subscriptions).toBe(2)
    await t.server.publish(api.chat.room, { room: 'a' }, { text: '1' })
    await t.server.publish(api.chat.room, { room: 'a' }, { text: '2' })
    await both
    expect(await points(t, METRIC_DELIVERIES)).toEqual([{ attributes: { 'patchbay.topic': 'chat.room' }, value: 4 }])
  })

  it('dropped: events a drop topic let go, by topic, equal to stats.dropped', async () => {
    t = await startTelemetry({ topics: { chat: { room: { backpressure: 'drop', highWaterMark: 1 } } } })
    const subscriber = await raw(t.url)
    subscriber.send({ t: 'sub', id: 1, path: 'chat.room', params: { room: 'a' } })
    await subscriber.next()
    // One burst in one tick: past the first, each finds the connection above its 1-byte mark.
    for (let n = 0; n < 50; n++) void t.server.publish(api.chat.room, { room: 'a' }, { text: String(n) })
    expect(t.server.stats.dropped).toBeGreaterThan(0)
    expect(await points(t, METRIC_DROPPED)).toEqual([{ attributes: { 'patchbay.topic': 'chat.room' }, value: t.server.stats.dropped }])
  })

  it('slow consumers: a subscriber closed 4507 counts once, as in stats.slowConsumers', async () => {
    t = await startTelemetry({ topics: { chat: { room: { backpressure: 'close', highWaterMark: 1 } } } })
    const subscriber = await raw(t.url)
    subscriber.send({ t: 'sub', id: 1, path: 'chat.room', params: { room: 'a' } })
    await subscriber.next()
    for (let n = 0; n < 3; n++) void t.server.publish(api.chat.room, { room: 'a' }, { text: String(n) })
    expect((await subscriber.closed).code).toBe(CloseCode.SLOW_CONSUMER)
    expect(t.server.stats.slowConsumers).toBe(1)
    expect(await points(t, METRIC_SLOW_CONSUMERS)).toEqual([{ attributes: {}, value: 1 }])
  })

  it('rate-limited messages: counted as stats.rateLimited counts them', async () => {
    // One token a second: however slowly a loaded machine reads the 15, at most a few refill,
    // and a debt of 5 stays below the burst of 10 that would close the connection (4429).
    t = await startTelemetry({ rateLimit: { perSecond: 1, burst: 10 } })
    const peer = await raw(t.url)
    for (let id = 1; id <= 15; id++) peer.send({ t: 'call', id, path: 'math.add', input: { a: id, b: 0 } })
    const answers = await peer.take(15)
    const limited = answers.filter((answer) => answer.t === 'error').length
    expect(limited).toBeGreaterThanOrEqual(2)
    expect(t.server.stats.rateLimited).toBe(limited)
    expect(await points(t, METRIC_RATE_LIMITED)).toEqual([{ attributes: {}, value: limited }])
  })

  it('lags: events the topic engine lost under a subscriber, by topic, as topicStats.lost counts them', async () => {
    // The memory engine loses nothing: the fake engine of tests/server loses on demand.
    const engine = new FakeEngine(NO_FAULTS)
    const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
    const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 })
    const meterProvider = new MeterProvider({ readers: [reader] })
    const server = createServer(api, {
      engine,
      positionCheckMs: 0,
      instrumentation: serverTelemetry({ tracerProvider: false, meterProvider }),
      handlers: { math: { add: () => 0 }, whoami: () => ({ traceId: '', spanId: '' }), fail: { forbidden: () => null }, hold: () => null, async *count() {} },
    })
    try {
      const { port } = await server.listen()
      const subscriber = await raw(`ws://127.0.0.1:${port}`)
      subscriber.send({ t: 'sub', id: 1, path: 'chat.room', params: { room: 'a' } })
      const { ch } = (await subscriber.next()).output as { ch: number }
      void server.publish(api.chat.room, { room: 'a' }, { text: '1' })
      engine.setFaults({ drop: 1, duplicate: 0, maxDelayMs: 0 })
      for (const text of ['2', '3']) void server.publish(api.chat.room, { room: 'a' }, { text })
      engine.setFaults(NO_FAULTS)
      void server.publish(api.chat.room, { room: 'a' }, { text: '4' })
      await engine.settled()
      expect(await subscriber.take(3)).toEqual([
        { t: 'event', ch, seq: 1, data: { text: '1' } },
        { t: 'lag', ch, seq: 3, missed: 2 },
        { t: 'event', ch, seq: 4, data: { text: '4' } },
      ])
      await reader.forceFlush()
      const lags = metricExporter.getMetrics().at(-1)?.scopeMetrics.flatMap((scope) => scope.metrics).find((metric) => metric.descriptor.name === METRIC_LAGS)
      expect(lags?.dataPoints.map((point) => ({ attributes: point.attributes, value: point.value }))).toEqual([{ attributes: { 'patchbay.topic': 'chat.room' }, value: 2 }])
      expect(server.topicStats.lost).toBe(2)
    } finally {
      await server.close()
      await meterProvider.shutdown()
    }
  })
})
