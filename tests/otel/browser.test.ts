/**
 * One trace from a browser to the handler, in real headless Chromium: the page (bundled at
 * test time with esbuild, the browser client and `clientTelemetry()` on the SDK's
 * BasicTracerProvider, exporting to an array the test reads back) makes a span of its own and
 * a call inside it; the server's span joins that trace, a child of the call's client span,
 * which is a child of the page's span (docs/protocol.md §4.3, docs/guide/observability.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { SpanKind } from '@opentelemetry/api'
import { launchChromium } from '../support/browser.js'
import { servePage, type ServedPage } from '../support/page.js'
import { finished, startTelemetry, type Telemetry } from './support.js'

/**
 * The page. A browser has no AsyncLocalStorage: the page registers the smallest synchronous
 * context manager (what `context.with` needs to make its span the active one while the call
 * is made, which is when the client reads it).
 */
const PAGE = `
import { context, trace, ROOT_CONTEXT } from '@opentelemetry/api'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { createClient } from '@patchbay/client'
import { msgpackCodec } from '@patchbay/client/msgpack'
import { clientTelemetry } from '@patchbay/otel'
import { api } from './api.ts'

let active = ROOT_CONTEXT
context.setGlobalContextManager({
  active: () => active,
  with: (next, fn, thisArg, ...args) => {
    const previous = active
    active = next
    try { return fn.call(thisArg, ...args) } finally { active = previous }
  },
  bind: (_context, target) => target,
  enable() { return this },
  disable() { active = ROOT_CONTEXT; return this },
})

window.traced = async (url, encoding) => {
  const exporter = new InMemorySpanExporter()
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  const client = createClient(api, { url, encodings: [encoding === 'msgpack' ? msgpackCodec : encoding], reconnect: false, instrumentation: clientTelemetry({ tracerProvider }) })
  const page = tracerProvider.getTracer('page').startSpan('click')
  const sum = await context.with(trace.setSpan(context.active(), page), () => client.math.add({ a: 2, b: 3 }))
  page.end()
  await client.close()
  return {
    sum,
    spans: exporter.getFinishedSpans().map((span) => ({
      name: span.name,
      kind: span.kind,
      traceId: span.spanContext().traceId,
      spanId: span.spanContext().spanId,
      parentSpanId: span.parentSpanContext?.spanId,
    })),
  }
}
`

interface PageSpan {
  name: string
  kind: number
  traceId: string
  spanId: string
  parentSpanId: string | undefined
}

let browser: Browser
let served: ServedPage | undefined
let pageUrl = ''
let t: Telemetry
const problems: string[] = []

beforeAll(async () => {
  served = await servePage(PAGE, new URL('.', import.meta.url).pathname)
  pageUrl = served.url
  browser = await launchChromium()
  t = await startTelemetry()
})

afterAll(async () => {
  await browser?.close()
  await served?.close()
  await t?.close()
  expect(problems).toEqual([])
})

describe('a browser span and the server span in Chromium', () => {
  it.each(['json', 'msgpack'])('are one trace over %s', async (encoding) => {
    t.spans.reset()
    const page = await (await browser.newContext()).newPage()
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
    await page.goto(pageUrl)
    await page.waitForFunction(() => 'traced' in window)
    const result = await page.evaluate(
      ([url, chosen]) => (window as unknown as { traced: (url: string, encoding: string) => Promise<{ sum: number; spans: PageSpan[] }> }).traced(url as string, chosen as string),
      [t.url, encoding],
    )
    await page.context().close()
    expect(result.sum).toBe(5)
    const click = result.spans.find((span) => span.name === 'click')
    const call = result.spans.find((span) => span.name === 'math/add')
    expect(call?.kind).toBe(SpanKind.CLIENT)
    expect(call?.parentSpanId).toBe(click?.spanId)
    const [server] = finished(t.spans, SpanKind.SERVER)
    expect(server?.attributes['patchbay.encoding']).toBe(encoding)
    expect(server?.spanContext().traceId).toBe(click?.traceId)
    expect(server?.parentSpanContext?.spanId).toBe(call?.spanId)
  })
})
