/**
 * docs/protocol.md §12.1: channels kept for returning subscribers are bounded server-wide
 * (`retention.maxChannels`, `retention.maxBytes`); past a bound the channel that lost its
 * last subscriber longest ago is forgotten first, a channel with subscribers never is, and a
 * subscriber coming back to an evicted channel finds another epoch.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { router, topic, type Encoding } from '@patchbay/core'
import { createMemoryEngine, createServer, type PatchbayServer, type RetentionLimits } from '@patchbay/server'
import { ENCODINGS, connectRaw, type Message, type RawClient } from '../conformance/support.js'
import { ENGINES, boundedEngine, describeEachEngine, engineCase } from '../support/engines.js'

const api = router({
  room: topic({ params: z.object({ room: z.string() }), message: z.object({ text: z.string() }), publish: 'client' }),
})

let server: PatchbayServer | undefined
const raws: RawClient[] = []
afterEach(async () => {
  for (const raw of raws.splice(0)) raw.ws.terminate()
  await server?.close()
  server = undefined
})

async function start(retention: Partial<RetentionLimits>): Promise<string> {
  server = createServer(api, { handlers: {}, topics: { room: { history: 8 } }, engine: boundedEngine(retention) })
  const { port } = await server.listen()
  return `ws://127.0.0.1:${port}`
}

async function open(url: string, encoding: Encoding): Promise<RawClient> {
  const raw = await connectRaw(url, encoding)
  raws.push(raw)
  return raw
}

interface Subscribed {
  ch: number
  seq: number
  epoch: string
}

let nextId = 1
async function sub(client: RawClient, room: string, resume?: { epoch: string; seq: number }): Promise<{ id: number; output: Subscribed }> {
  const id = nextId++
  client.send({ t: 'sub', id, path: 'room', params: { room }, ...(resume === undefined ? {} : { resume }) })
  const answer = await client.next()
  expect(answer).toMatchObject({ t: 'result', id })
  return { id, output: (answer as Message & { output: Subscribed }).output }
}

async function pub(client: RawClient, room: string, text: string): Promise<void> {
  const id = nextId++
  client.send({ t: 'pub', id, path: 'room', params: { room }, data: { text } })
  // Our own events may come first when we listen; the answer to this pub follows them.
  for (;;) {
    const frame = await client.next()
    if (frame.t === 'result' && frame.id === id) return
  }
}

// The bounds of channels kept in this process: engines that keep them elsewhere skip these.
describeEachEngine(() => {
  describe.each(ENCODINGS)('§12.1 retention bound (%s)', (encoding) => {
    it('evicts the channel left longest ago first, never one with subscribers, and counts it', async () => {
      const url = await start({ maxChannels: 3 })
      const watcher = await open(url, encoding)
      const churner = await open(url, encoding)
      const watched = await sub(watcher, 'watched')
      await pub(watcher, 'watched', 'kept')
      const epochs = new Map<string, Subscribed>()
      for (const room of ['r1', 'r2', 'r3', 'r4', 'r5']) {
        const { id, output } = await sub(churner, room)
        await pub(churner, room, `hello ${room}`)
        epochs.set(room, { ...output, seq: 1 })
        churner.send({ t: 'unsub', id })
      }
      // Everything sent on one connection is handled in order: a call-free round trip.
      await sub(churner, 'sync')
      expect(server?.topicStats).toMatchObject({ retained: 3, evictions: 2 })
      // r1 and r2 left first and were evicted: another epoch, a gap of unknown size.
      for (const room of ['r1', 'r2']) {
        const before = epochs.get(room) as Subscribed
        const { output } = await sub(churner, room, { epoch: before.epoch, seq: before.seq })
        expect(output.epoch).not.toBe(before.epoch)
        expect(output.ch).not.toBe(before.ch)
        expect(output.seq).toBe(0)
      }
      // r5 was kept: same epoch, same number, nothing missed.
      const r5 = epochs.get('r5') as Subscribed
      expect((await sub(churner, 'r5', { epoch: r5.epoch, seq: r5.seq })).output).toEqual(r5)
      // The watched channel was never a candidate, however many were evicted around it.
      const again = await sub(await open(url, encoding), 'watched', { epoch: watched.output.epoch, seq: 1 })
      expect(again.output).toEqual({ ch: watched.output.ch, seq: 1, epoch: watched.output.epoch })
    })

    it('counts the history of kept channels in encoded bytes against maxBytes', async () => {
      const url = await start({ maxBytes: 4_000 })
      const client = await open(url, encoding)
      const { id, output } = await sub(client, 'big')
      client.send({ t: 'unsub', id })
      // Published while nobody listens: still kept, so still counted.
      const text = 'x'.repeat(1_000)
      for (let n = 1; n <= 3; n++) await pub(client, 'big', text)
      const stats = server?.topicStats
      expect(stats?.retained).toBe(1)
      expect(stats?.retainedBytes).toBeGreaterThan(3 * 1_000)
      expect(stats?.evictions).toBe(0)
      // The fourth message takes it past 4,000 bytes: it goes.
      await pub(client, 'big', text)
      expect(server?.topicStats).toMatchObject({ retained: 0, retainedBytes: 0, evictions: 1 })
      const back = await sub(client, 'big', { epoch: output.epoch, seq: 4 })
      expect(back.output.epoch).not.toBe(output.epoch)
    })

    it('frees the accounting when a kept channel gets a subscriber again or expires', async () => {
      server = createServer(api, { handlers: {}, topics: { room: { history: 8, retainMs: 100 } }, engine: engineCase().create() })
      const { port } = await server.listen()
      const client = await open(`ws://127.0.0.1:${port}`, encoding)
      const first = await sub(client, 'a')
      await pub(client, 'a', 'one')
      client.send({ t: 'unsub', id: first.id })
      await sub(client, 'b')
      expect(server.topicStats.retained).toBe(1)
      expect(server.topicStats.retainedBytes).toBeGreaterThan(0)
      await sub(client, 'a', { epoch: first.output.epoch, seq: 1 })
      expect(server.topicStats).toMatchObject({ retained: 0, retainedBytes: 0 })
      const c = await sub(client, 'c')
      client.send({ t: 'unsub', id: c.id })
      await sub(client, 'd')
      expect(server.topicStats.retained).toBe(1)
      await expect.poll(() => server?.topicStats.retained, { timeout: 2_000 }).toBe(0)
      expect(server.topicStats).toMatchObject({ retainedBytes: 0, evictions: 0 })
    })
  })
}, ENGINES.filter((each) => each.bounded !== undefined))

describe('retention option', () => {
  it('must hold positive integers', () => {
    expect(() => createServer(api, { handlers: {}, retention: { maxChannels: 0 } })).toThrow(/retention\.maxChannels/)
    expect(() => createServer(api, { handlers: {}, retention: { maxBytes: 1.5 } })).toThrow(/retention\.maxBytes/)
  })

  it('bounds the default engine only: with an engine, it goes to createMemoryEngine', () => {
    expect(() => createServer(api, { handlers: {}, engine: createMemoryEngine(), retention: { maxChannels: 5 } })).toThrow(/createMemoryEngine/)
    expect(() => createMemoryEngine({ retention: { maxChannels: 0 } })).toThrow(/retention\.maxChannels/)
  })
})
