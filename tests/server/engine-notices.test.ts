/**
 * What a subscriber hears when the topic engine fails under it, over real sockets with the
 * real client, on the fake engine of ./fake-engine.ts (the Redis engine's failures, on cue):
 * - the store lost a channel (a new epoch under live subscribers): each connection gets one
 *   `lag` naming the new epoch, the client reports one gap of unknown size, goes on in the new
 *   epoch, and resumes in it after a reconnect (docs/protocol.md §12.1, §14);
 * - the store cannot be reached: `pub`, `sub` and `server.publish` fail with UNAVAILABLE, the
 *   sockets stay open, and the client's subscription manager retries its `sub` until the
 *   engine is back (docs/protocol.md §6).
 */
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { channelOf, ErrorCode, PatchbayError, router, topic, type Encoding } from '@patchbay/core'
import { createServer, type Engine, type PatchbayServer } from '@patchbay/server'
import { createClient, type Client, type LagEvent } from '@patchbay/client'
import { connectRaw, type RawClient } from '../conformance/support.js'
import { deferred } from '../e2e/fixtures.js'
import { FakeEngine, NO_FAULTS } from './fake-engine.js'
import { codec } from '../support/codecs.js'

const api = router({
  room: topic({ params: z.object({ room: z.string() }), message: z.object({ n: z.number() }), publish: 'client' }),
  /** A drop-policy topic whose 1-byte mark drops every event behind the first of a burst (§14). */
  feed: topic({ message: z.object({ n: z.number() }), backpressure: 'drop' }),
})
const CHANNEL = channelOf('room', { room: 'r' })
const OPTIONS = { history: 100, retainMs: 60_000 }

const servers: PatchbayServer<Engine>[] = []
const clients: Client<typeof api>[] = []
const raws: RawClient[] = []
afterEach(async () => {
  for (const raw of raws.splice(0)) raw.ws.terminate()
  await Promise.all(clients.splice(0).map((client) => client.close()))
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

async function start(engine: FakeEngine, port = 0): Promise<{ server: PatchbayServer<Engine>; port: number; url: string }> {
  const server = createServer(api, { handlers: {}, engine, topics: { room: { history: OPTIONS.history, retainMs: OPTIONS.retainMs }, feed: { highWaterMark: 1 } } })
  servers.push(server)
  const listening = await server.listen({ port })
  return { server, port: listening.port, url: `ws://127.0.0.1:${listening.port}` }
}

function client(url: string, encoding: Encoding = 'json'): Client<typeof api> {
  const made = createClient(api, { url, WebSocket, encodings: [codec(encoding)], reconnect: { retryDelay: 20, maxRetryDelay: 100 } })
  clients.push(made)
  return made
}

/** A listener that records seqs and lags, and wakes whoever waits for a count of either. */
function listener() {
  const seqs: number[] = []
  const lags: LagEvent[] = []
  const waits: { done: () => boolean; resolve: () => void }[] = []
  const check = (): void => {
    for (const wait of [...waits]) {
      if (!wait.done()) continue
      waits.splice(waits.indexOf(wait), 1)
      wait.resolve()
    }
  }
  return {
    seqs,
    lags,
    onMessage: (_message: unknown, meta: { seq: number }): void => {
      seqs.push(meta.seq)
      check()
    },
    onLag: (lag: LagEvent): void => {
      lags.push(lag)
      check()
    },
    until(done: () => boolean): Promise<void> {
      if (done()) return Promise.resolve()
      const wait = deferred()
      waits.push({ done, resolve: wait.resolve })
      return wait.promise
    },
  }
}

describe('a channel whose epoch changes under live subscribers (docs/protocol.md §12.1, §14)', () => {
  it('sends each connection one lag naming the new epoch and its latest seq, in either encoding', async () => {
    const engine = new FakeEngine(NO_FAULTS)
    const { server, url } = await start(engine)
    const pair: RawClient[] = []
    for (const encoding of ['json', 'msgpack'] as const) {
      const raw = await connectRaw(url, encoding)
      raws.push(raw)
      // Two subscriptions to the channel on one connection: still one notice (an event's rule, §12).
      raw.send({ t: 'sub', id: 1, path: 'room', params: { room: 'r' } })
      raw.send({ t: 'sub', id: 2, path: 'room', params: { room: 'r' } })
      await raw.take(2)
      pair.push(raw)
    }
    await server.publish(api.room, { room: 'r' }, { n: 1 })
    for (const raw of pair) expect(await raw.next()).toMatchObject({ t: 'event', seq: 1 })
    const before = engine.top(CHANNEL)
    engine.restart()
    await engine.settled()
    const after = engine.top(CHANNEL)
    expect(after?.epoch).not.toBe(before?.epoch)
    for (const raw of pair) {
      expect(await raw.next()).toEqual({ t: 'lag', ch: expect.any(Number), seq: 0, epoch: after?.epoch })
    }
    await server.publish(api.room, { room: 'r' }, { n: 2 })
    // Nothing between the notice and the new epoch's first event: no second notice.
    for (const raw of pair) expect(await raw.next()).toMatchObject({ t: 'event', seq: 1, data: { n: 2 } })
    expect(server.topicStats.resets).toBe(1)
  })

  it('lets go of a drop count of the lost epoch: the notice replaces the counted lag it would have been', async () => {
    const engine = new FakeEngine(NO_FAULTS)
    const { server, url } = await start(engine)
    const raw = await connectRaw(url, 'json')
    raws.push(raw)
    raw.send({ t: 'sub', id: 1, path: 'feed' })
    const { ch } = (await raw.next()).output as { ch: number }
    // In one tick: a burst (its deliveries run as microtasks: the first is sent, the rest are
    // dropped and counted for a lag on drain), then the store restarts (its read comes after).
    for (let n = 1; n <= 10; n++) void server.publish(api.feed, undefined, { n })
    engine.restart()
    await engine.settled()
    const epoch = engine.top(channelOf('feed', undefined))?.epoch
    await server.publish(api.feed, undefined, { n: 11 })
    expect(await raw.take(3)).toEqual([
      { t: 'event', ch, seq: 1, data: { n: 1 } },
      { t: 'lag', ch, seq: 0, epoch },
      { t: 'event', ch, seq: 1, data: { n: 11 } },
    ])
    // Nothing else came, before or after: no counted lag of the old epoch once it drained.
    raw.send({ t: 'ping' })
    expect(await raw.next()).toEqual({ t: 'pong' })
    expect(raw.received).toHaveLength(5) // the sub result, the three above, the pong
  })

  it('the client reports one gap of unknown size, goes on in the new epoch, and resumes in it after a reconnect', async () => {
    const engine = new FakeEngine({ drop: 0, duplicate: 0, maxDelayMs: 1 }, 13)
    const first = await start(engine)
    const subscribers = (['json', 'msgpack'] as const).map((encoding) => {
      const heard = listener()
      const off = client(first.url, encoding).room.subscribe({ room: 'r' }, heard.onMessage, { onLag: heard.onLag })
      return { heard, off }
    })
    // A topic iterator hears of it through its onLag too.
    const iterated = listener()
    const iterator = client(first.url).room.iterate({ room: 'r' }, { onLag: iterated.onLag })
    const pulled = (async () => {
      for await (const message of iterator) {
        iterated.onMessage(message, { seq: message.n })
        if (message.n === 103) break
      }
    })()
    await Promise.all(subscribers.map(({ off }) => off.ready))
    await engine.settled() // the iterator's sub too
    await expect.poll(() => first.server.topicStats.subscriptions).toBe(3)
    for (let n = 1; n <= 5; n++) await first.server.publish(api.room, { room: 'r' }, { n })
    await Promise.all(subscribers.map(({ heard }) => heard.until(() => heard.seqs.length === 5)))

    engine.restart()
    // Told once the feed read the new epoch from its start (publishes racing that read are
    // delivered after the notice, which names the seq before the first of them, §12.1).
    await Promise.all([...subscribers.map(({ heard }) => heard), iterated].map((heard) => heard.until(() => heard.lags.length === 1)))
    for (let n = 101; n <= 103; n++) await first.server.publish(api.room, { room: 'r' }, { n })
    for (const { heard } of subscribers) {
      await heard.until(() => heard.seqs.length === 8)
      // One report of an unknown gap, at the new epoch's seq 0; the new epoch's 1..3 follow.
      expect(heard.lags).toEqual([{ missed: undefined, seq: 0 }])
      expect(heard.seqs).toEqual([1, 2, 3, 4, 5, 1, 2, 3])
    }
    await pulled
    expect(iterated.lags).toEqual([{ missed: undefined, seq: 0 }])
    expect(iterated.seqs).toEqual([1, 2, 3, 4, 5, 101, 102, 103])

    // The node goes away; another publishes meanwhile (into the store: history keeps it); a new
    // node on the same port takes the clients back. Resuming names the new epoch, so the
    // missed events are replayed, with no gap reported.
    await first.server.close()
    servers.splice(servers.indexOf(first.server), 1)
    for (let n = 104; n <= 105; n++) await engine.publish(CHANNEL, { n }, OPTIONS)
    const second = await start(engine, first.port)
    for (const { heard } of subscribers) {
      await heard.until(() => heard.seqs.length === 10)
      expect(heard.seqs.slice(8)).toEqual([4, 5])
      expect(heard.lags).toHaveLength(1)
    }
    expect(second.server.topicStats.resumed).toBe(2)
  })
})

describe('an engine that cannot be reached (docs/protocol.md §6 UNAVAILABLE)', () => {
  it('fails pub, sub and server.publish with UNAVAILABLE, and the connection lives on', async () => {
    const engine = new FakeEngine(NO_FAULTS)
    const { server, url } = await start(engine)
    const raw = await connectRaw(url, 'json')
    raws.push(raw)
    engine.setDown(true)
    expect(server.topicStats.engine).toBe('down')
    raw.send({ t: 'sub', id: 1, path: 'room', params: { room: 'r' } })
    expect(await raw.next()).toEqual({ t: 'error', id: 1, error: { code: ErrorCode.UNAVAILABLE, message: 'The topic engine is unavailable' } })
    raw.send({ t: 'pub', id: 2, path: 'room', params: { room: 'r' }, data: { n: 1 } })
    expect(await raw.next()).toEqual({ t: 'error', id: 2, error: { code: ErrorCode.UNAVAILABLE, message: 'The topic engine is unavailable' } })
    const rejected = await Promise.resolve(server.publish(api.room, { room: 'r' }, { n: 1 })).catch((error: unknown) => error)
    expect(rejected).toBeInstanceOf(PatchbayError)
    expect(rejected).toMatchObject({ code: ErrorCode.UNAVAILABLE })
    // A failed sub holds nothing; once the engine is back, the same ids work.
    expect(server.topicStats.subscriptions).toBe(0)
    engine.setDown(false)
    raw.send({ t: 'sub', id: 1, path: 'room', params: { room: 'r' } })
    expect(await raw.next()).toMatchObject({ t: 'result', id: 1, output: { seq: 0 } })
    raw.send({ t: 'pub', id: 2, path: 'room', params: { room: 'r' }, data: { n: 1 } })
    const frames = await raw.take(2)
    expect(frames).toContainEqual({ t: 'result', id: 2, output: { delivered: 1 } })
    expect(frames).toContainEqual({ t: 'event', ch: expect.any(Number), seq: 1, data: { n: 1 } })
  })

  it('the client fails a publish to its caller, and retries a subscribe with backoff until the engine is back', async () => {
    const engine = new FakeEngine(NO_FAULTS)
    const { server, url } = await start(engine)
    const made = client(url)
    engine.setDown(true)
    await expect(made.room.publish({ room: 'r' }, { n: 1 })).rejects.toMatchObject({ code: ErrorCode.UNAVAILABLE })
    const heard = listener()
    const off = made.room.subscribe({ room: 'r' }, heard.onMessage, { onLag: heard.onLag })
    let ready = false
    void off.ready.then(() => {
      ready = true
    })
    // Refused at least twice (a first answer and a retry), and still waiting.
    await expect.poll(() => engine.refusedSubscribes, { timeout: 5_000 }).toBeGreaterThanOrEqual(2)
    expect(ready).toBe(false)
    engine.setDown(false)
    await off.ready
    await server.publish(api.room, { room: 'r' }, { n: 7 })
    await heard.until(() => heard.seqs.length === 1)
    expect(heard.seqs).toEqual([1])
    expect(heard.lags).toEqual([])
  })

  it('a subscribe waiting to retry ends with the client: ready rejects, an iterator fails once', async () => {
    const engine = new FakeEngine(NO_FAULTS)
    const { url } = await start(engine)
    // Retries far apart: what ends them here is the close, not a retry that finds the client closed.
    const made = createClient(api, { url, WebSocket, reconnect: { retryDelay: 60_000, maxRetryDelay: 60_000 } })
    clients.push(made)
    engine.setDown(true)
    const off = made.room.subscribe({ room: 'r' }, () => {})
    const iterator = made.room.iterate({ room: 'other' })
    const failures: unknown[] = []
    const loop = (async () => {
      try {
        for await (const _message of iterator) void _message
      } catch (error) {
        failures.push(error)
      }
    })()
    // Both refused once: each now waits for its retry.
    await expect.poll(() => engine.refusedSubscribes, { timeout: 5_000 }).toBe(2)
    await made.close()
    await expect(off.ready).rejects.toBeInstanceOf(PatchbayError)
    await loop
    expect(failures).toHaveLength(1)
  })

  it('a resubscribe after a reconnect that finds the engine down is retried, and resumes once it is back', async () => {
    const engine = new FakeEngine(NO_FAULTS)
    const first = await start(engine)
    const heard = listener()
    const off = client(first.url).room.subscribe({ room: 'r' }, heard.onMessage, { onLag: heard.onLag })
    await off.ready
    await first.server.publish(api.room, { room: 'r' }, { n: 1 })
    await heard.until(() => heard.seqs.length === 1)
    // The node goes; another publishes meanwhile; the engine is down when the node comes back.
    await first.server.close()
    servers.splice(servers.indexOf(first.server), 1)
    for (let n = 2; n <= 3; n++) await engine.publish(CHANNEL, { n }, OPTIONS)
    engine.setDown(true)
    const second = await start(engine, first.port)
    await expect.poll(() => engine.refusedSubscribes, { timeout: 5_000 }).toBeGreaterThanOrEqual(2)
    engine.setDown(false)
    // The retried resume replays what was missed: nothing lost, no gap reported.
    await heard.until(() => heard.seqs.length === 3)
    expect(heard.seqs).toEqual([1, 2, 3])
    expect(heard.lags).toEqual([])
    expect(second.server.topicStats).toMatchObject({ subscriptions: 1, resumed: 1 })
  })
})
