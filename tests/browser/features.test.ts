/**
 * The client's newer capabilities in real headless Chromium, on the browser's own WebSocket
 * (no `ws`, no `_socket`): credit-based streams, a token in the subprotocol list, the send
 * queue held back by `bufferedAmount` (browsers have no drain event, so the client polls),
 * and lag reports from a `latest` topic.
 */
import { createServer as createHttpServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { build } from 'esbuild'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from '../support/browser.js'
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws'
import { createServer, type PatchbayServer } from '@patchbay/server'
import { api } from './features/api.js'
import { fromWire, toWire } from '../support/wire.js'

let browser: Browser
let page: Page
let http: Server
let server: PatchbayServer
let url = ''
const problems: string[] = []
const run = { produced: 0, finished: 0 }

beforeAll(async () => {
  const bundle = await build({
    entryPoints: [new URL('./features/page.ts', import.meta.url).pathname],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    logLevel: 'warning',
  })
  const script = bundle.outputFiles[0]?.text ?? ''
  server = createServer(api, {
    context: ({ token }) => ({ token: token ?? null }),
    topics: { cursor: { highWaterMark: 1 } },
    handlers: {
      whoami: ({ ctx }) => ({ token: ctx.token }),
      put: ({ input }) => input.blob.length,
      async *count({ input }) {
        try {
          for (let n = 1; input.to === undefined || n <= input.to; n++) {
            run.produced = n
            yield n
          }
        } finally {
          run.finished++
        }
      },
    },
  })
  http = createHttpServer((request, response) => {
    if (request.url === '/page.js') {
      response.writeHead(200, { 'Content-Type': 'text/javascript' })
      response.end(script)
      return
    }
    response.writeHead(200, { 'Content-Type': 'text/html' })
    response.end('<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>')
  })
  server.attach(http)
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const address = http.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  url = `ws://127.0.0.1:${port}`
  browser = await launchChromium()
  page = await (await browser.newContext()).newPage()
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
  await page.goto(`http://127.0.0.1:${port}/`)
  await page.waitForFunction(() => window.patchbay !== undefined)
})

afterAll(async () => {
  await browser?.close()
  await server?.close()
  await new Promise((resolve) => http?.close(resolve))
  expect(problems).toEqual([])
})

describe.each(['json', 'msgpack'] as const)('browser client over %s', (encoding) => {
  it('iterates a stream with credit: the producer waits for the loop, and break runs its finally', async () => {
    run.produced = 0
    run.finished = 0
    const firstThree = await page.evaluate(
      async ({ url, encoding }) => {
        const { createClient, api, codecs } = window.patchbay
        const client = createClient(api, { url, encodings: [codecs[encoding]] })
        const ticks = client.count({}, { credit: 4 })
        const got = [(await ticks.next()).value, (await ticks.next()).value, (await ticks.next()).value]
        ;(window as unknown as { ticks: typeof ticks }).ticks = ticks
        ;(window as unknown as { client: typeof client }).client = client
        return got
      },
      { url, encoding },
    )
    expect(firstThree).toEqual([1, 2, 3])
    // A window of 4: the server pulled 4; the loop took 3, and after the 2nd (half the window)
    // 2 more credits went back. 6 items, then the loop stalls and so does the generator.
    await expect.poll(() => run.produced).toBe(6)
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(run.produced).toBe(6)
    await page.evaluate(async () => {
      const { ticks, client } = window as unknown as { ticks: AsyncIterableIterator<number>; client: { close(): Promise<void> } }
      await ticks.return?.()
      await client.close()
    })
    await expect.poll(() => run.finished).toBe(1)
  })

  it('finishes a finite stream in a for await loop', async () => {
    const items = await page.evaluate(
      async ({ url, encoding }) => {
        const { createClient, api, codecs } = window.patchbay
        const client = createClient(api, { url, encodings: [codecs[encoding]] })
        const seen: number[] = []
        for await (const n of client.count({ to: 100 }, { credit: 7 })) seen.push(n)
        await client.close()
        return seen
      },
      { url, encoding },
    )
    expect(items).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
  })

  it('sends a token as a subprotocol that only the context hook sees', async () => {
    const result = await page.evaluate(
      async ({ url, encoding }) => {
        const { createClient, api, codecs } = window.patchbay
        const client = createClient(api, { url, encodings: [codecs[encoding]], token: async () => 'sésame: ouvre-toi' })
        const me = await client.whoami()
        const negotiated = client.encoding
        await client.close()
        return { me, negotiated }
      },
      { url, encoding },
    )
    expect(result).toEqual({ me: { token: 'sésame: ouvre-toi' }, negotiated: encoding })
  })

  it('reports the messages a latest topic conflated', async () => {
    const ready = page.evaluate(
      async ({ url, encoding }) => {
        const { createClient, api, codecs } = window.patchbay
        const client = createClient(api, { url, encodings: [codecs[encoding]] })
        const state = { seen: [] as number[], missed: 0 }
        ;(window as unknown as { cursor: typeof state }).cursor = state
        await client.cursor.subscribe((message) => state.seen.push(message.x), { onLag: (lag) => (state.missed += lag.missed ?? 0) }).ready
      },
      { url, encoding },
    )
    await ready
    for (let x = 1; x <= 200; x++) server.publish(api.cursor, undefined, { x })
    const state = async (): Promise<{ seen: number[]; missed: number }> =>
      page.evaluate(() => (window as unknown as { cursor: { seen: number[]; missed: number } }).cursor)
    await expect.poll(async () => (await state()).seen.at(-1)).toBe(200)
    const final = await state()
    expect(final.seen.length).toBeLessThan(200)
    expect(final.seen.length + final.missed).toBe(200)
  })
})

describe('browser send queue', () => {
  it('holds requests while bufferedAmount is above the mark, refuses past maxQueued, and drains', async () => {
    // A raw server that stops reading, so the browser's socket buffer fills.
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => 'patchbay.v1.json' })
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()))
    const address = wss.address()
    const rawUrl = `ws://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
    const socket = new Promise<ServerSocket>((resolve) => wss.once('connection', (ws) => resolve(ws)))
    try {
      const filled = page.evaluate(async (target) => {
        const { createClient, api } = window.patchbay
        const client = createClient(api, { url: target, encodings: ['json'], highWaterMark: 64 * 1024, maxQueued: 20, timeout: 0 })
        ;(window as unknown as { queued: typeof client }).queued = client
        await client.connect()
        const blob = 'b'.repeat(256 * 1024)
        let peak = 0
        let refused = 0
        const calls: Promise<unknown>[] = []
        for (let i = 0; i < 300; i++) {
          calls.push(client.put({ blob }).catch((error: { code?: string }) => (error.code === 'TOO_MANY_REQUESTS' ? refused++ : Promise.reject(error))))
          peak = Math.max(peak, client.bufferedAmount)
          if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 10))
        }
        ;(window as unknown as { calls: Promise<unknown>[] }).calls = calls
        return { peak, refused }
      }, rawUrl)
      const serverSocket = await socket
      serverSocket.pause()
      const { peak, refused } = await filled
      expect(peak).toBeLessThan(64 * 1024 + 257 * 1024)
      expect(refused).toBeGreaterThan(0)
      // The server reads again and answers every call it gets.
      let answered = 0
      serverSocket.on('message', (data: Buffer) => {
        const message = fromWire(JSON.parse(data.toString())) as { id: number }
        serverSocket.send(JSON.stringify(toWire({ t: 'result', id: message.id, output: 1 })))
        answered++
      })
      serverSocket.resume()
      const outcome = await page.evaluate(async () => {
        const { queued, calls } = window as unknown as { queued: { drained(): Promise<void>; bufferedAmount: number; close(): Promise<void> }; calls: Promise<unknown>[] }
        await Promise.all(calls)
        await queued.drained()
        const buffered = queued.bufferedAmount
        void queued.close()
        return { buffered }
      })
      expect(outcome.buffered).toBeLessThan(64 * 1024)
      expect(answered).toBe(300 - refused)
    } finally {
      for (const client of wss.clients) client.terminate()
      await new Promise((resolve) => wss.close(resolve))
    }
  })
})
