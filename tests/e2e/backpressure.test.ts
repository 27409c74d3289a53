/**
 * Server-side backpressure (docs/protocol.md §14) on real sockets: a subscriber that stops
 * reading (its socket paused, so the kernel buffers fill and then ours) meets its topic's
 * policy, the connection's hard limit closes it with 4507, results are never dropped, and
 * nobody else notices.
 */
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { CloseCode, procedure, router, topic, type Encoding } from '@patchbay/core'
import { createServer, type PatchbayServer, type ServerOptions } from '@patchbay/server'
import { createClient, type Client, type LagEvent } from '@patchbay/client'
import { connectRaw, type Message, type RawClient } from '../conformance/support.js'
import { codec } from '../support/codecs.js'

const Item = z.object({ n: z.number().int(), pad: z.string() })
const api = router({
  feed: {
    queue: topic({ message: Item }),
    latest: topic({ message: Item, backpressure: 'latest' }),
    drop: topic({ message: Item, backpressure: 'drop' }),
    close: topic({ message: Item, backpressure: 'close' }),
    cursor: topic({ params: z.object({ id: z.number().int() }), message: Item, backpressure: 'latest' }),
  },
  blob: procedure({ input: z.object({ size: z.number().int() }), output: z.string() }),
  add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }),
})

const KiB = 1024
let server: PatchbayServer
const clients: Client<typeof api>[] = []
const raws: RawClient[] = []
afterEach(async () => {
  for (const raw of raws.splice(0)) raw.ws.terminate()
  await Promise.all(clients.splice(0).map((client) => client.close()))
  await server?.close()
})

async function start(options: Partial<ServerOptions<typeof api, undefined>> = {}): Promise<string> {
  server = createServer(api, {
    backpressure: { highWaterMark: 64 * KiB, maxBuffered: 1024 * KiB },
    // Long, so a stalled socket a test resumes always finds the 4507 close frame behind its
    // backlog however loaded the machine (past closeTimeout the server terminates it and the
    // peer sees 1006; the closeTimeout test checks that on its own). It also makes every
    // 4507 test a check that the closing handshake ends as soon as the peer answers: a
    // server still paused for congestion never read the answer and held on for closeTimeout.
    closeTimeout: 30_000,
    ...options,
    handlers: { blob: ({ input }) => 'x'.repeat(input.size), add: ({ input }) => input.a + input.b },
  })
  const { port } = await server.listen()
  return `ws://127.0.0.1:${port}`
}

function client(url: string, encoding: Encoding = 'json'): Client<typeof api> {
  const made = createClient(api, { url, WebSocket, encodings: [codec(encoding)], reconnect: false })
  clients.push(made)
  return made
}

/** A raw subscriber that then stops reading: its socket is paused, so TCP fills up. */
/** A raw subscriber of `path` that stops reading once confirmed; `ch` is its channel's number. */
async function stalledSubscriber(url: string, path: string, encoding: Encoding = 'json'): Promise<RawClient & { ch: number }> {
  const raw = await connectRaw(url, encoding)
  raws.push(raw)
  raw.send({ t: 'sub', id: 1, path })
  const confirmed = await raw.next()
  expect(confirmed).toMatchObject({ t: 'result', id: 1 })
  raw.ws.pause()
  return Object.assign(raw, { ch: (confirmed.output as { ch: number }).ch })
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const yieldToIo = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** Publishes `count` items of `size` bytes, letting I/O run every `batch` so sockets move. */
async function publish(path: Exclude<keyof typeof api.feed, 'cursor'>, count: number, size: number, batch = 8): Promise<void> {
  const pad = 'p'.repeat(size)
  for (let n = 1; n <= count; n++) {
    server.publish(api.feed[path], undefined, { n, pad })
    if (n % batch === 0) await yieldToIo()
  }
  await yieldToIo()
}

/** Resolves when `client` has received `count` messages on `path`, with their seqs and lags. */
function collect(subscriber: Client<typeof api>, path: Exclude<keyof typeof api.feed, 'cursor'>, count: number) {
  const items: number[] = []
  const lags: LagEvent[] = []
  let resolve!: () => void
  const done = new Promise<void>((r) => (resolve = r))
  const unsubscribe = subscriber.feed[path].subscribe(
    (message) => {
      items.push(message.n)
      if (items.length === count) resolve()
    },
    { onLag: (lag) => lags.push(lag) },
  )
  return { items, lags, done, ready: unsubscribe.ready }
}

/** Every frame the raw client has received, once it has read for a while after resuming. */
async function drainRaw(raw: RawClient): Promise<Message[]> {
  raw.ws.resume()
  await Promise.race([raw.closed, pause(1500)])
  return [...raw.received]
}

describe('queue policy (the default)', () => {
  it('closes a subscriber that stops reading with 4507 at the hard limit; the others get every message in order', async () => {
    const url = await start()
    const stalled = await stalledSubscriber(url, 'feed.queue')
    const fast = [client(url), client(url, 'msgpack'), client(url)]
    const feeds = fast.map((subscriber) => collect(subscriber, 'queue', 600))
    await Promise.all(feeds.map((feed) => feed.ready))

    await publish('queue', 600, 16 * KiB) // ~9.6 MB, far past what the stalled socket can hold
    await Promise.all(feeds.map((feed) => feed.done))
    for (const feed of feeds) {
      expect(feed.items).toEqual(Array.from({ length: 600 }, (_, i) => i + 1))
      expect(feed.lags).toEqual([])
    }
    expect(server.stats.slowConsumers).toBe(1)
    expect(server.stats.dropped).toBe(0)
    stalled.ws.resume()
    expect((await stalled.closed).code).toBe(CloseCode.SLOW_CONSUMER)
    // The slow consumer's subscription is gone; the fast ones remain.
    expect(server.topicStats.subscriptions).toBe(3)
  })
})

describe('drop policy', () => {
  it('drops for a stalled subscriber, counts it, and sends a lag notice once it drains', async () => {
    const url = await start()
    const stalled = await stalledSubscriber(url, 'feed.drop')
    const fast = client(url)
    const feed = collect(fast, 'drop', 600)
    await feed.ready
    await publish('drop', 600, 16 * KiB)
    await feed.done
    expect(feed.items).toHaveLength(600)
    expect(feed.lags).toEqual([])

    const frames = await drainRaw(stalled)
    expect(stalled.isOpen).toBe(true)
    const events = frames.filter((frame) => frame.t === 'event')
    const lags = frames.filter((frame) => frame.t === 'lag')
    expect(lags.length).toBeGreaterThanOrEqual(1)
    const missed = lags.reduce((sum, lag) => sum + (lag.missed as number), 0)
    // Nothing vanished silently: every message was either delivered or reported missed.
    expect(events.length + missed).toBe(600)
    expect(missed).toBe(server.stats.dropped)
    expect(missed).toBeGreaterThan(0)
    const last = lags.at(-1) as Message
    expect(last).toMatchObject({ t: 'lag', ch: stalled.ch })
    // Sequence numbers stay consistent: seqs delivered plus seqs reported cover 1..600.
    const seqs = events.map((event) => event.seq as number)
    expect(new Set(seqs).size).toBe(seqs.length)
    expect(Math.max(...seqs, last.seq as number)).toBe(600)
    expect(server.stats.slowConsumers).toBe(0)
  })

  it('tells a Patchbay client how many it missed through onLag (a per-topic high-water mark of 1 byte)', async () => {
    const url = await start({ topics: { feed: { drop: { highWaterMark: 1 } } } })
    const subscriber = client(url)
    const lags: LagEvent[] = []
    const seen: number[] = []
    const unsubscribe = subscriber.feed.drop.subscribe((message) => seen.push(message.n), { onLag: (lag) => lags.push(lag) })
    await unsubscribe.ready
    // One burst: the first event is buffered (corked until the socket flushes), so most of
    // the rest find the connection above its 1-byte mark and are dropped.
    for (let n = 1; n <= 50; n++) server.publish(api.feed.drop, undefined, { n, pad: '' })
    const missed = (): number => lags.reduce((sum, lag) => sum + (lag.missed ?? NaN), 0)
    await expect.poll(() => seen.length + missed()).toBe(50)
    expect(seen[0]).toBe(1)
    expect(missed()).toBeGreaterThan(0)
    expect(missed()).toBe(server.stats.dropped)
    // Each notice covers exactly the seqs between the messages around it.
    let last = 0
    const timeline = [...seen.map((n) => ({ at: n, missed: 0 })), ...lags.map((lag) => ({ at: lag.seq, missed: lag.missed }))].sort((a, b) => a.at - b.at)
    for (const entry of timeline) {
      expect(entry.at - last).toBe(entry.missed === 0 ? 1 : entry.missed)
      last = entry.at
    }
    expect(last).toBe(50)
    // Delivery continues after the notice, with the next sequence number.
    const lagCount = lags.length
    server.publish(api.feed.drop, undefined, { n: 51, pad: '' })
    await expect.poll(() => seen.at(-1)).toBe(51)
    expect(lags).toHaveLength(lagCount)
  })
})

describe('latest policy', () => {
  it('keeps only the newest message while congested and reports the gap', async () => {
    const url = await start({ topics: { feed: { latest: { highWaterMark: 1 } } } })
    const subscriber = client(url, 'msgpack')
    const lags: LagEvent[] = []
    const seen: { n: number; seq: number }[] = []
    const unsubscribe = subscriber.feed.latest.subscribe((message, meta) => seen.push({ n: message.n, seq: meta.seq }), {
      onLag: (lag) => lags.push(lag),
    })
    await unsubscribe.ready
    for (let n = 1; n <= 100; n++) server.publish(api.feed.latest, undefined, { n, pad: '' })
    await expect.poll(() => seen.at(-1)?.n).toBe(100)
    await pause(50)
    expect(seen[0]).toEqual({ n: 1, seq: 1 })
    expect(seen.at(-1)).toEqual({ n: 100, seq: 100 })
    expect(seen.length).toBeLessThan(100)
    // Every gap was reported, and only gaps.
    const missed = lags.reduce((sum, lag) => sum + (lag.missed ?? NaN), 0)
    expect(seen.length + missed).toBe(100)
    expect(missed).toBe(server.stats.dropped)
    for (const lag of lags) expect(seen.some((event) => event.seq === lag.seq + 1)).toBe(true)
  })

  it('gives a stalled subscriber the newest message once it drains', async () => {
    const url = await start()
    const stalled = await stalledSubscriber(url, 'feed.latest', 'msgpack')
    await publish('latest', 600, 16 * KiB)
    const events = (await drainRaw(stalled)).filter((frame) => frame.t === 'event')
    expect(stalled.isOpen).toBe(true)
    expect(events.at(-1)).toMatchObject({ seq: 600, data: { n: 600 } })
    expect(events.length).toBeLessThan(600)
    expect(events.length + server.stats.dropped).toBe(600)
  })
})

describe('latest policy and the hard limit', () => {
  it('counts the events it holds toward the hard limit: many channels held past it close with 4507', async () => {
    const url = await start()
    const raw = await connectRaw(url, 'json')
    raws.push(raw)
    for (let id = 1; id <= 100; id++) raw.send({ t: 'sub', id, path: 'feed.cursor', params: { id } })
    await raw.take(100)
    raw.ws.pause()
    const pad = 'p'.repeat(16 * KiB)
    // Round after round over 100 channels: once the socket is congested, each channel holds
    // its newest 16 KiB event, 1.6 MB in all, past the 1 MiB hard limit.
    for (let round = 0; round < 60 && server.stats.slowConsumers === 0; round++) {
      for (let id = 1; id <= 100; id++) server.publish(api.feed.cursor, { id }, { n: round, pad })
      await yieldToIo()
    }
    expect(server.stats.slowConsumers).toBe(1)
    raw.ws.resume()
    expect((await raw.closed).code).toBe(CloseCode.SLOW_CONSUMER)
  })
})

describe('close policy', () => {
  it('closes a subscriber over the high-water mark with 4507 and leaves the others be', async () => {
    const url = await start()
    const stalled = await stalledSubscriber(url, 'feed.close')
    const fast = client(url)
    const feed = collect(fast, 'close', 400)
    await feed.ready
    await publish('close', 400, 16 * KiB)
    await feed.done
    expect(feed.items).toHaveLength(400)
    expect(server.stats.slowConsumers).toBe(1)
    stalled.ws.resume()
    const closed = await stalled.closed
    expect(closed.code).toBe(CloseCode.SLOW_CONSUMER)
    expect(closed.reason).toMatch(/feed\.close/)
    expect(fast.state).toBe('open')
  })
})

describe('results are never dropped', () => {
  it('stops reading a connection that does not read its results, and answers every call once it does', async () => {
    const BLOBS = 640
    // The file's hard limit of 1 MiB: a burst whose results come to 40 MiB is paced, not closed.
    const url = await start()
    const raw = await connectRaw(url, 'json')
    raws.push(raw)
    raw.ws.pause()
    // 640 results of 64 KiB (40 MiB) cannot all fit in the kernel's buffers, so the connection
    // stays congested: loopback grows a socket's receive buffer up to net.ipv4.tcp_rmem's
    // maximum (32 MiB here) and its send buffer up to 4 MiB, given time.
    for (let id = 1; id <= BLOBS; id++) raw.send({ t: 'call', id, path: 'blob', input: { size: 64 * KiB } })
    await expect.poll(() => server.stats.pauses, { timeout: 5000 }).toBeGreaterThanOrEqual(1)
    // The burst came in one chunk, but calls past the mark wait unread in the session (§14);
    // the kernel takes more results as its socket buffers grow, and each time the server
    // answers a few more: wait until nothing moves, the kernel's buffers and ours full.
    let answered = -1
    for (let i = 0; i < 25 && server.stats.calls !== answered; i++) {
      answered = server.stats.calls
      await pause(200)
    }
    expect(answered).toBeLessThan(BLOBS)
    // Calls sent now wait unread: the server answers none of them while the socket is full.
    for (let id = BLOBS + 1; id <= BLOBS + 20; id++) raw.send({ t: 'call', id, path: 'add', input: { a: id, b: 0 } })
    await pause(300)
    expect(server.stats.calls).toBe(answered)

    raw.ws.resume()
    const frames = await raw.take(BLOBS + 20)
    expect(frames.map((frame) => frame.id)).toEqual(Array.from({ length: BLOBS + 20 }, (_, i) => i + 1))
    for (const frame of frames.slice(0, BLOBS)) expect((frame.output as string).length).toBe(64 * KiB)
    for (const frame of frames.slice(BLOBS)) expect(frame.output).toBe(frame.id)
    expect(server.stats.slowConsumers).toBe(0)
  })

  it('closes with 4507 rather than buffer a result past the hard limit', async () => {
    const url = await start()
    const raw = await connectRaw(url, 'msgpack')
    raws.push(raw)
    raw.ws.pause()
    // Calls are answered at the pace the peer reads (§14), so only a result that does not fit
    // under the 1 MiB hard limit by itself can pass it.
    for (let id = 1; id <= 4; id++) raw.send({ t: 'call', id, path: 'blob', input: { size: 2048 * KiB } })
    await expect.poll(() => server.stats.slowConsumers, { timeout: 5000 }).toBe(1)
    raw.ws.resume()
    expect((await raw.closed).code).toBe(CloseCode.SLOW_CONSUMER)
    // Another connection is served as usual.
    expect(await client(url).add({ a: 2, b: 3 })).toBe(5)
  })
})

describe('closeTimeout', () => {
  it('terminates a slow consumer that never reads its close frame once closeTimeout has passed', async () => {
    const url = await start({ closeTimeout: 300 })
    const raw = await connectRaw(url, 'msgpack')
    raws.push(raw)
    raw.ws.pause()
    // Calls are answered at the pace the peer reads (§14), so only a result that does not fit
    // under the 1 MiB hard limit by itself can pass it.
    for (let id = 1; id <= 4; id++) raw.send({ t: 'call', id, path: 'blob', input: { size: 2048 * KiB } })
    await expect.poll(() => server.stats.slowConsumers, { timeout: 5000 }).toBe(1)
    // The peer never reads again: after closeTimeout the server gives up on the closing
    // handshake and drops the TCP connection, which frees what the socket held.
    await expect.poll(() => server.connectionCount, { timeout: 5000 }).toBe(0)
  })
})

describe('isolation', () => {
  it('a stalled subscriber costs the others nothing: they get every message and calls keep answering', async () => {
    const url = await start({ backpressure: { highWaterMark: 64 * KiB, maxBuffered: 2048 * KiB } })
    const stalled = await stalledSubscriber(url, 'feed.queue')
    const fast = Array.from({ length: 5 }, (_, i) => client(url, i % 2 === 0 ? 'json' : 'msgpack'))
    const feeds = fast.map((subscriber) => collect(subscriber, 'queue', 1000))
    await Promise.all(feeds.map((feed) => feed.ready))
    const caller = client(url)
    let calls = 0
    let publishing = true
    const calling = (async () => {
      while (publishing) {
        expect(await caller.add({ a: calls, b: 1 })).toBe(calls + 1)
        calls++
      }
    })()
    await publish('queue', 1000, 8 * KiB)
    await Promise.all(feeds.map((feed) => feed.done))
    publishing = false
    await calling
    for (const feed of feeds) expect(feed.items).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1))
    expect(calls).toBeGreaterThan(0)
    stalled.ws.resume()
    expect((await stalled.closed).code).toBe(CloseCode.SLOW_CONSUMER)
  })
})
