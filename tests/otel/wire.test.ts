/**
 * Trace context on the wire, from a raw WebSocket client (docs/protocol.md §4.3): a valid
 * `traceparent` makes the server's span a child of the span it names; a malformed, oversized,
 * non-string or absent one is ignored (W3C: start a new trace), never an error and never a
 * close, and the connection serves the next request as before.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SpanKind } from '@opentelemetry/api'
import { MAX_TRACEPARENT_LENGTH, type Encoding } from '@patchbay/core'
import { connectRaw, type RawClient } from '../conformance/support.js'
import { finished, startTelemetry, type Telemetry } from './support.js'

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const PARENT_ID = '00f067aa0ba902b7'
const VALID = `00-${TRACE_ID}-${PARENT_ID}-01`

describe.each<Encoding>(['json', 'msgpack'])('traceparent over %s (§4.3)', (encoding) => {
  let t: Telemetry
  let raw: RawClient
  beforeEach(async () => {
    t = await startTelemetry()
    raw = await connectRaw(t.url, encoding)
  })
  afterEach(async () => {
    raw.ws.close()
    await t.close()
  })

  /** Sends a call with `trace` fields, expects its result, and returns the server span it made. */
  async function callWith(id: number, trace: Record<string, unknown>): Promise<ReturnType<typeof finished>[number]> {
    raw.send({ t: 'call', id, path: 'math.add', input: { a: id, b: 1 }, ...trace })
    expect(await raw.next()).toEqual({ t: 'result', id, output: id + 1 })
    const span = finished(t.spans, SpanKind.SERVER).at(-1)
    if (span === undefined) throw new Error('no server span')
    return span
  }

  it('joins the trace a valid traceparent names, with its tracestate', async () => {
    const span = await callWith(1, { traceparent: VALID, tracestate: 'vendor=abc' })
    expect(span.spanContext().traceId).toBe(TRACE_ID)
    expect(span.parentSpanContext?.spanId).toBe(PARENT_ID)
    expect(span.spanContext().traceState?.get('vendor')).toBe('abc')
  })

  it('starts a new trace for a malformed, oversized, non-string or absent traceparent, and the connection lives on', async () => {
    const cases: Record<string, unknown>[] = [
      { traceparent: 'garbage' },
      // All-zero trace id: invalid per W3C.
      { traceparent: `00-${'0'.repeat(32)}-${PARENT_ID}-01` },
      // Version ff is forbidden.
      { traceparent: `ff-${TRACE_ID}-${PARENT_ID}-01` },
      // Well-formed prefix, but past the length limit: dropped before anything parses it.
      { traceparent: VALID + '-' + 'a'.repeat(MAX_TRACEPARENT_LENGTH) },
      { traceparent: 42 },
      { traceparent: { nested: VALID } },
      { tracestate: 'vendor=abc' },
      {},
    ]
    let id = 10
    for (const trace of cases) {
      const span = await callWith(++id, trace)
      expect(span.parentSpanContext, JSON.stringify(trace)).toBeUndefined()
      expect(span.spanContext().traceId).not.toBe(TRACE_ID)
    }
    // Every one got its own new trace, and the connection still joins a valid one.
    const traces = new Set(finished(t.spans, SpanKind.SERVER).map((span) => span.spanContext().traceId))
    expect(traces.size).toBe(cases.length)
    expect((await callWith(99, { traceparent: VALID })).spanContext().traceId).toBe(TRACE_ID)
    expect(raw.isOpen).toBe(true)
  })

  it('keeps the traceparent and drops an oversized tracestate', async () => {
    const span = await callWith(3, { traceparent: VALID, tracestate: `vendor=${'x'.repeat(600)}` })
    expect(span.spanContext().traceId).toBe(TRACE_ID)
    expect(span.spanContext().traceState).toBeUndefined()
  })

  it('carries trace context on stream, sub and pub too', async () => {
    raw.send({ t: 'sub', id: 1, path: 'chat.room', params: { room: 'r' }, traceparent: VALID })
    expect(await raw.next()).toMatchObject({ t: 'result', id: 1 })
    raw.send({ t: 'pub', id: 2, path: 'chat.room', params: { room: 'r' }, data: { text: 'x' }, traceparent: VALID })
    raw.send({ t: 'stream', id: 3, path: 'count', input: { to: 1 }, credit: 5, traceparent: VALID })
    await raw.take(4) // the event, the pub's result, the item, the stream's result
    const spans = finished(t.spans, SpanKind.SERVER)
    expect(spans.map((span) => span.attributes['patchbay.kind']).sort()).toEqual(['publish', 'stream', 'subscribe'])
    for (const span of spans) expect(span.parentSpanContext?.spanId).toBe(PARENT_ID)
  })
})
