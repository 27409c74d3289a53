/**
 * Tracing end to end on real sockets (docs/guide/observability.md): one span per call,
 * stream, subscribe and publish on each side, the client's trace context carried in the
 * request (docs/protocol.md §4.3) so both are one trace, and the error code as the status.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { context, SpanKind, SpanStatusCode } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { PatchbayError, type Encoding } from '@patchbay/core'
import { finished, startTelemetry, type Telemetry } from './support.js'

// What an SDK setup (NodeSDK) registers: without a context manager no span is ever active.
beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
})
afterAll(() => {
  context.disable()
})

describe.each<Encoding>(['json', 'msgpack'])('tracing over %s', (encoding) => {
  let t: Telemetry
  beforeEach(async () => {
    t = await startTelemetry()
  })
  afterEach(async () => {
    await t.close()
  })

  it('makes the client span and the server span one trace, the server span a child of the client span', async () => {
    const client = t.client(encoding)
    await expect(client.math.add({ a: 1, b: 2 })).resolves.toBe(3)
    const [clientSpan] = finished(t.spans, SpanKind.CLIENT)
    const [serverSpan] = finished(t.spans, SpanKind.SERVER)
    expect(clientSpan?.name).toBe('math/add')
    expect(serverSpan?.name).toBe('math/add')
    expect(serverSpan?.spanContext().traceId).toBe(clientSpan?.spanContext().traceId)
    expect(serverSpan?.parentSpanContext?.spanId).toBe(clientSpan?.spanContext().spanId)
    expect(serverSpan?.parentSpanContext?.isRemote).toBe(true)
    for (const span of [clientSpan, serverSpan]) {
      expect(span?.attributes).toMatchObject({ 'rpc.system': 'patchbay', 'rpc.service': 'math', 'rpc.method': 'add', 'patchbay.kind': 'call' })
      expect(span?.status.code).toBe(SpanStatusCode.UNSET)
    }
    expect(serverSpan?.attributes['patchbay.encoding']).toBe(encoding)
    // No input ever goes into an attribute.
    expect(JSON.stringify([clientSpan?.attributes, serverSpan?.attributes])).not.toMatch(/"a"|"b"/)
  })

  it('runs the handler with the server span active', async () => {
    const client = t.client(encoding)
    const seen = await client.whoami()
    const [serverSpan] = finished(t.spans, SpanKind.SERVER)
    expect(seen).toEqual({ traceId: serverSpan?.spanContext().traceId, spanId: serverSpan?.spanContext().spanId })
  })

  it('sets the error code as the status and as error.type on both sides', async () => {
    const client = t.client(encoding)
    await expect(client.fail.forbidden()).rejects.toMatchObject({ code: 'FORBIDDEN' })
    for (const kind of [SpanKind.CLIENT, SpanKind.SERVER]) {
      const [span] = finished(t.spans, kind)
      expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'FORBIDDEN' })
      expect(span?.attributes['error.type']).toBe('FORBIDDEN')
    }
  })

  it('ends both spans with CANCELLED when the caller cancels', async () => {
    const client = t.client(encoding)
    const controller = new AbortController()
    const call = client.hold(undefined, { signal: controller.signal })
    await t.holding.promise
    controller.abort()
    await expect(call).rejects.toBeInstanceOf(PatchbayError)
    await t.aborted.promise
    const [clientSpan] = finished(t.spans, SpanKind.CLIENT)
    const [serverSpan] = finished(t.spans, SpanKind.SERVER)
    expect(clientSpan?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'CANCELLED' })
    expect(serverSpan?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'CANCELLED' })
    expect(serverSpan?.spanContext().traceId).toBe(clientSpan?.spanContext().traceId)
  })

  it('spans a stream from its start to its end', async () => {
    const client = t.client(encoding)
    const items: number[] = []
    for await (const n of client.count({ to: 3 })) items.push(n)
    expect(items).toEqual([1, 2, 3])
    const [clientSpan] = finished(t.spans, SpanKind.CLIENT)
    const [serverSpan] = finished(t.spans, SpanKind.SERVER)
    expect(serverSpan?.attributes).toMatchObject({ 'patchbay.kind': 'stream', 'rpc.method': 'count' })
    expect(serverSpan?.parentSpanContext?.spanId).toBe(clientSpan?.spanContext().spanId)
    expect(serverSpan?.status.code).toBe(SpanStatusCode.UNSET)
  })

  it('spans a subscribe (CLIENT) and a publish (PRODUCER), each joined by its server span', async () => {
    const client = t.client(encoding)
    const got = new Promise<unknown>((resolve) => client.chat.room.subscribe({ room: 'a' }, resolve))
    await client.chat.room.publish({ room: 'a' }, { text: 'hi' })
    await got
    const clientSpans = t.spans.getFinishedSpans().filter((span) => span.kind !== SpanKind.SERVER)
    const serverSpans = finished(t.spans, SpanKind.SERVER)
    const subscribe = clientSpans.find((span) => span.attributes['patchbay.kind'] === 'subscribe')
    const publish = clientSpans.find((span) => span.attributes['patchbay.kind'] === 'publish')
    expect(subscribe?.kind).toBe(SpanKind.CLIENT)
    expect(publish?.kind).toBe(SpanKind.PRODUCER)
    for (const span of [subscribe, publish]) {
      const joined = serverSpans.find((server) => server.parentSpanContext?.spanId === span?.spanContext().spanId)
      expect(joined?.name).toBe('chat/room')
      expect(joined?.attributes['patchbay.kind']).toBe(span?.attributes['patchbay.kind'])
    }
  })
})
