/**
 * @patchbay/react in real headless Chromium: a React 19 page in Strict Mode (a development
 * build, so every effect runs twice), bundled here with esbuild, against a real Patchbay
 * server on 127.0.0.1. What the server saw (calls, cancels, subscriptions, streams) is read
 * on the server; what the page sent is read from its recorded frames.
 */
import { createServer as createHttpServer, type Server } from 'node:http'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { build } from 'esbuild'
import type { Browser, Page } from 'playwright-core'
import { createServer, type PatchbayServer } from '@patchbay/server'
import { launchChromium } from '../support/browser.js'
import { api } from './react/api.js'
import type { SentFrame, View } from './react/page.js'

/** A promise with its resolve, for events the server's handlers report. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {}
  const promise = new Promise<void>((done) => (resolve = done))
  return { promise, resolve }
}

/** What the server's handlers saw. */
const seen = {
  slow: new Map<string, { started: ReturnType<typeof deferred>; aborted: ReturnType<typeof deferred> }>(),
  /** Rooms, one entry per `sub` the server authorized. */
  authorized: [] as string[],
  streams: { started: 0, finished: 0, produced: 0 },
  /** Rooms whose next `sub` waits in `authorize` until `release` resolves; `asked` once it does. */
  held: new Map<string, { asked: ReturnType<typeof deferred>; release: ReturnType<typeof deferred> }>(),
}

function slowCall(id: string) {
  let entry = seen.slow.get(id)
  if (entry === undefined) {
    entry = { started: deferred(), aborted: deferred() }
    seen.slow.set(id, entry)
  }
  return entry
}

let server: PatchbayServer
let wsPort = 0

/** Starts the Patchbay server (again, on the same port after a restart). */
async function serve(port: number): Promise<void> {
  const started: PatchbayServer = createServer(api, {
    encodings: ['json'],
    closeTimeout: 50,
    handlers: {
      math: { add: ({ input }) => input.a + input.b },
      slow: ({ input, signal }) =>
        new Promise<string>((_, reject) => {
          const call = slowCall(input.id)
          call.started.resolve()
          signal.addEventListener('abort', () => {
            call.aborted.resolve()
            reject(signal.reason)
          })
        }),
      chat: { send: ({ input }) => started.publish(api.chat.room, { room: input.room }, { text: input.text }) as number },
      async *count({ input, signal }) {
        seen.streams.started++
        try {
          for (let n = 1; input.to === undefined || n <= input.to; n++) {
            // `pause`: after that many items, wait for the client to cancel, so a test of a
            // cancel sees a known set of items rather than a flood it has to race.
            if (input.pause !== undefined && n > input.pause) {
              await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
              return
            }
            seen.streams.produced = n
            yield n
          }
        } finally {
          seen.streams.finished++
        }
      },
    },
    topics: {
      chat: {
        room: {
          authorize: ({ params }) => {
            seen.authorized.push(params.room)
            const allowed = params.room !== 'forbidden'
            // Synchronous unless held, so every other `sub` is registered as its frame is read (§10).
            const held = seen.held.get(params.room)
            if (held === undefined) return allowed
            seen.held.delete(params.room)
            held.asked.resolve()
            return held.release.promise.then(() => allowed)
          },
        },
      },
    },
  })
  server = started
  wsPort = (await started.listen({ port, host: '127.0.0.1' })).port
}

let http: Server
let pageUrl = ''
let browser: Browser
let page: Page
const problems: string[] = []
/**
 * While a test's server is down, Chromium logs each refused reconnect attempt as a console
 * error: expected there, and dropped from the problems the test leaves.
 */
const forgiveRefusedConnections = (): void => {
  const rest = problems.filter((problem) => !problem.includes('net::ERR_CONNECTION_REFUSED'))
  problems.splice(0, problems.length, ...rest)
}

beforeAll(async () => {
  const bundle = await build({
    entryPoints: [new URL('./react/page.tsx', import.meta.url).pathname],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    jsx: 'automatic',
    // React's development build: Strict Mode runs effects twice only there.
    define: { 'process.env.NODE_ENV': '"development"' },
    logLevel: 'warning',
  })
  const script = bundle.outputFiles[0]?.text ?? ''
  http = createHttpServer((request, response) => {
    if (request.url === '/page.js') {
      response.writeHead(200, { 'Content-Type': 'text/javascript' })
      response.end(script)
      return
    }
    response.writeHead(200, { 'Content-Type': 'text/html' })
    response.end('<!doctype html><meta charset="utf-8"><div id="root"></div><script type="module" src="/page.js"></script>')
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const address = http.address()
  pageUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/`
  await serve(0)
  browser = await launchChromium()
})

beforeEach(async () => {
  page = await (await browser.newContext()).newPage()
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`)
  })
  await page.goto(`${pageUrl}?ws=${encodeURIComponent(`ws://127.0.0.1:${wsPort}`)}`)
  await page.waitForFunction(() => window.app !== undefined)
})

afterEach(async () => {
  await page.context().close()
  expect(problems.splice(0)).toEqual([])
})

afterAll(async () => {
  await browser?.close()
  await server?.close()
  await new Promise((resolve) => http?.close(resolve))
})

const show = (view: View): Promise<void> => page.evaluate((next) => window.app.show(next), view)
const sent = (): Promise<SentFrame[]> => page.evaluate(() => window.wire)
const subsTo = (frames: SentFrame[], room: string): SentFrame[] =>
  frames.filter((frame) => frame.t === 'sub' && frame.path === 'chat.room' && (frame.params as { room: string }).room === room)
/** Publishes to a room on the server; resolves with how many connections it reached. */
const publish = (room: string, text: string): number => server.publish(api.chat.room, { room }, { text }) as number

describe('queries', () => {
  it('renders a query result, under the key derived from path and input', async () => {
    await show({ kind: 'sum', a: 1, b: 2 })
    await page.getByTestId('sum').getByText('3', { exact: true }).waitFor()
    expect(await page.evaluate(() => window.app.queryKeys())).toEqual([['patchbay', 'math.add', { a: 1, b: 2 }]])
    // New input, new key, new call.
    await show({ kind: 'sum', a: 20, b: 22 })
    await page.getByTestId('sum').getByText('42', { exact: true }).waitFor()
  })

  it('unmounting during a call cancels it on the server: the handler sees its signal abort', async () => {
    const id = `slow-${Date.now()}`
    await show({ kind: 'slow', id })
    await slowCall(id).started.promise
    await page.getByTestId('slow').getByText('pending').waitFor()
    await show(null)
    await slowCall(id).aborted.promise
    const frames = await sent()
    // One call despite Strict Mode's double mount (TanStack dedupes the fetch), then its cancel.
    const calls = frames.filter((frame) => frame.t === 'call' && frame.path === 'slow')
    expect(calls).toHaveLength(1)
    expect(frames.filter((frame) => frame.t === 'cancel' && frame.id === calls[0]?.id)).toHaveLength(1)
  })
})

describe('useSubscription', () => {
  it('holds one wire subscription under Strict Mode, renders messages, and sends a mutation', async () => {
    const room = `strict-${Date.now()}`
    const authorizedBefore = seen.authorized.filter((name) => name === room).length
    await show({ kind: 'room', room })
    await page.locator('[data-testid="room"][data-status="live"]').waitFor()
    expect(subsTo(await sent(), room)).toHaveLength(1)
    expect(seen.authorized.filter((name) => name === room).length - authorizedBefore).toBe(1)
    expect(server.topicStats.subscriptions).toBe(1)
    expect(publish(room, 'hello from the server')).toBe(1)
    await page.getByTestId('latest').getByText('hello from the server').waitFor()
    // useMutation with the procedure's options: its result (connections reached) renders.
    await page.getByTestId('send').click()
    await page.getByTestId('latest').getByText(`from the page to ${room}`).waitFor()
    await page.getByTestId('delivered').getByText('1').waitFor()
    const frames = await sent()
    expect(subsTo(frames, room)).toHaveLength(1)
    expect(frames.filter((frame) => frame.t === 'unsub')).toHaveLength(0)
  })

  it('a param change unsubscribes the old channel and subscribes the new one', async () => {
    const [first, second] = [`first-${Date.now()}`, `second-${Date.now()}`]
    await show({ kind: 'room', room: first })
    await page.locator('[data-testid="room"][data-status="live"]').waitFor()
    publish(first, 'in the first room')
    await page.getByTestId('latest').getByText('in the first room').waitFor()
    await show({ kind: 'room', room: second })
    await page.locator('[data-testid="room"][data-status="live"]').waitFor()
    // The old channel's message is gone with its params.
    expect(await page.getByTestId('latest').textContent()).toBe('')
    const frames = await sent()
    const [old] = subsTo(frames, first)
    expect(subsTo(frames, second)).toHaveLength(1)
    // The old subscription ends on the wire (`unsub` with the old sub's id), so the server stops sending.
    await expect.poll(async () => (await sent()).filter((frame) => frame.t === 'unsub' && frame.id === old?.id)).toHaveLength(1)
    await expect.poll(() => server.topicStats.subscriptions).toBe(1)
    expect(publish(first, 'nobody listens')).toBe(0)
    expect(publish(second, 'in the second room')).toBe(1)
    await page.getByTestId('latest').getByText('in the second room').waitFor()
  })

  it('re-renders a component only for what it reads: onMessage takes events without rendering', async () => {
    const room = `quiet-${Date.now()}`
    await show({ kind: 'quiet-room', room })
    await page.locator('[data-testid="quiet"][data-status="live"]').waitFor()
    const before = await page.evaluate(() => window.app.renders.quiet)
    for (let i = 1; i <= 20; i++) publish(room, `event ${i}`)
    await expect.poll(() => page.evaluate(() => window.app.heard.length), { timeout: 3000 }).toBe(20)
    expect(await page.evaluate(() => window.app.renders.quiet)).toBe(before)
    expect(await page.evaluate(() => window.app.heard.at(-1))).toBe('event 20')
    // A component that reads `data` renders for them (so the count above can fail).
    await show({ kind: 'room', room })
    await page.locator('[data-testid="room"][data-status="live"]').waitFor()
    const shown = await page.evaluate(() => window.app.renders.room ?? 0)
    for (let i = 1; i <= 5; i++) publish(room, `shown ${i}`)
    await page.getByTestId('latest').getByText('shown 5').waitFor()
    expect(await page.evaluate(() => window.app.renders.room ?? 0)).toBeGreaterThan(shown)
  })

  it('shows a refusal as a typed error, and takes a topic without params', async () => {
    await show({ kind: 'room', room: 'forbidden' })
    await page.locator('[data-testid="room"][data-status="error"][data-code="FORBIDDEN"]').waitFor()
    await show({ kind: 'clock' })
    await page.locator('[data-testid="clock"][data-status="live"]').waitFor()
    expect(server.publish(api.clock, undefined, 7)).toBe(1)
    await page.getByTestId('tick').getByText('7').waitFor()
    expect((await sent()).filter((frame) => frame.t === 'sub' && frame.path === 'clock')).toHaveLength(1)
  })

  it('leaves `live` when its client closes: the subscription ended, CONNECTION_LOST', async () => {
    await show({ kind: 'own-client-room', room: `closing-${Date.now()}` })
    await page.locator('[data-testid="own-client-room"][data-status="live"]').waitFor()
    await page.evaluate(() => window.app.closeOwnClient())
    await page.locator('[data-testid="own-client-room"][data-status="error"][data-code="CONNECTION_LOST"]').waitFor()
  })

  it('resumes after a server restart, and surfaces the lag', async () => {
    const room = `restart-${Date.now()}`
    await show({ kind: 'room', room })
    await page.locator('[data-testid="room"][data-status="live"]').waitFor()
    publish(room, 'before the restart')
    await page.getByTestId('latest').getByText('before the restart').waitFor()
    await server.close()
    await serve(wsPort)
    // The client reconnects and subscribes again by itself; the server counts it.
    await expect.poll(() => server.topicStats.subscriptions, { timeout: 5_000 }).toBe(1)
    forgiveRefusedConnections()
    expect(publish(room, 'after the restart')).toBe(1)
    await page.getByTestId('latest').getByText('after the restart').waitFor()
    // A new server is a new sequence (§12.1): what was missed cannot be counted.
    expect(JSON.parse((await page.getByTestId('lag').textContent()) ?? '')).toEqual({ missed: null, seq: 0 })
    expect(await page.locator('[data-testid="room"]').getAttribute('data-status')).toBe('live')
  })
})

describe('useSubscription across a reconnect', () => {
  const status = (): Promise<string | null> => page.locator('[data-testid="room"]').getAttribute('data-status')

  // docs/protocol.md §10, §12.1: a dropped connection suspends the subscription; the client
  // subscribes again on the next one, and events flow once the server has confirmed it.
  it('is `reconnecting` while the connection is down, and `live` again only once the resubscription is confirmed', async () => {
    const room = `reconnect-${Date.now()}`
    await show({ kind: 'room', room })
    await page.locator('[data-testid="room"][data-status="live"]').waitFor()
    expect(publish(room, 'before the drop')).toBe(1)
    await page.getByTestId('latest').getByText('before the drop').waitFor()
    const held = { asked: deferred(), release: deferred() }
    await server.close()
    try {
      // No server now: the client retries every 20–100 ms and no event can arrive.
      await page.locator('[data-testid="room"][data-status="reconnecting"]').waitFor({ timeout: 5_000 })
      expect(await page.evaluate(() => window.app.clientState())).not.toBe('open')
      // The last message stays readable.
      expect(await page.getByTestId('latest').textContent()).toBe('before the drop')
    } finally {
      // The next server holds the resubscription in `authorize`: the socket is open, the
      // subscription is not. (Started even when the checks above failed: later tests need it.)
      seen.held.set(room, held)
      await serve(wsPort)
    }
    await held.asked.promise
    forgiveRefusedConnections()
    expect(await page.evaluate(() => window.app.clientState())).toBe('open')
    expect(await status()).toBe('reconnecting')
    held.release.resolve()
    await page.locator('[data-testid="room"][data-status="live"]').waitFor({ timeout: 5_000 })
    expect(publish(room, 'after the reconnect')).toBe(1)
    await page.getByTestId('latest').getByText('after the reconnect').waitFor()
    expect(await page.evaluate((name) => window.app.statuses[name], room)).toEqual(['idle', 'pending', 'live', 'reconnecting', 'live'])
  })
})

describe('useStream', () => {
  it('renders the items of a stream with credit, started once under Strict Mode', async () => {
    const startedBefore = seen.streams.started
    await show({ kind: 'count', to: 10, credit: 3 })
    await page.locator('[data-testid="count"][data-status="done"]').waitFor()
    expect(await page.getByTestId('items').textContent()).toBe('1,2,3,4,5,6,7,8,9,10')
    expect(seen.streams.started - startedBefore).toBe(1)
    expect((await sent()).filter((frame) => frame.t === 'stream')).toHaveLength(1)
  })

  // Bulk counts the distinct `items` arrays and `count` values its renders read: one per
  // update of the result. An update per item (the copy of `items` per item that made a long
  // stream quadratic) shows as one of each per item; the hook makes one per macrotask and
  // 16 ms at most, however the items are spread over socket reads.
  const bulk = async (mode: 'accumulate' | 'latest', to: number) => {
    await show({ kind: 'bulk', to, mode })
    await page.locator('[data-testid="bulk"][data-status="done"]').waitFor({ state: 'attached', timeout: 30_000 })
    const count = await page.locator('[data-testid="bulk"]').getAttribute('data-count')
    // The order is checked in the page: 20,000 numbers need not travel.
    const seenInPage = await page.evaluate(() => {
      const { arrays, counts, heard, last, latest } = window.app.bulk
      return { arrays, counts, heard, latest, length: last.length, inOrder: last.every((n, i) => n === i + 1) }
    })
    return { count: Number(count), ...seenInPage }
  }

  it('a long stream in `accumulate` mode ends with every item, in order, in far fewer updates than items', async () => {
    const to = 20_000
    const seenInPage = await bulk('accumulate', to)
    expect(seenInPage).toMatchObject({ count: to, heard: to, latest: to, length: to, inOrder: true })
    expect(seenInPage.arrays).toBeLessThan(to / 10)
    expect(seenInPage.counts).toBeLessThan(to / 10)
  })

  it('a long stream in `latest` mode keeps no items, counts every one, in far fewer updates than items', async () => {
    const to = 20_000
    const seenInPage = await bulk('latest', to)
    expect(seenInPage).toMatchObject({ count: to, heard: to, latest: to, length: 0, arrays: 1 })
    expect(seenInPage.counts).toBeLessThan(to / 10)
  })

  it('cancel() ends the stream on the server and keeps every item it took', async () => {
    const finishedBefore = seen.streams.finished
    await show({ kind: 'count', credit: 4, pause: 5 })
    await page.getByTestId('items').getByText('1,2,3,4,5', { exact: true }).waitFor()
    await page.getByTestId('cancel').click()
    await page.locator('[data-testid="count"][data-status="cancelled"]').waitFor()
    await expect.poll(() => seen.streams.finished).toBe(finishedBefore + 1)
    // The items taken before the cancel are all there, with their exact count.
    expect(await page.getByTestId('items').textContent()).toBe('1,2,3,4,5')
    expect(await page.locator('[data-testid="count"]').getAttribute('data-count')).toBe('5')
  })

  it('unmounting cancels the stream: the server generator stops', async () => {
    const finishedBefore = seen.streams.finished
    await show({ kind: 'count', credit: 4, pause: 5 })
    await page.getByTestId('items').getByText('1,2,3,4,5', { exact: true }).waitFor()
    expect(await page.locator('[data-testid="count"]').getAttribute('data-status')).toBe('streaming')
    await show(null)
    await expect.poll(() => seen.streams.finished).toBe(finishedBefore + 1)
    const frames = await sent()
    const [opened] = frames.filter((frame) => frame.t === 'stream')
    expect(frames.filter((frame) => frame.t === 'cancel' && frame.id === opened?.id)).toHaveLength(1)
  })
})
