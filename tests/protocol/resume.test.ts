/**
 * §12.1 resuming a subscription from the last seq seen, and §4.2 idempotency keys, in raw
 * frames against a real server: a second connection plays the client that came back.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { procedure, router, topic, type Encoding } from '@patchbay/core'
import { createServer, type Engine, type PatchbayServer } from '@patchbay/server'
import { connectRaw, type Message, type RawClient } from '../conformance/support.js'
import { describeEachEngine, engine } from '../support/engines.js'

const api = router({
  kept: topic({ message: z.object({ n: z.number() }) }),
  plain: topic({ message: z.object({ n: z.number() }) }),
  order: procedure({ input: z.object({ item: z.string() }), output: z.object({ order: z.number() }) }),
  /** Declared idempotent; answers at once with how many times it ran. */
  tally: procedure({ input: z.object({ item: z.string() }), output: z.object({ runs: z.number() }), idempotent: true }),
})

let server: PatchbayServer<Engine>
let executions = 0
let tallies = 0
const release: (() => void)[] = []
const raws: RawClient[] = []
afterEach(async () => {
  for (const raw of raws.splice(0)) raw.ws.terminate()
  for (const go of release.splice(0)) go()
  await server?.close()
  executions = 0
  tallies = 0
})

async function start(retainMs = 60_000): Promise<string> {
  server = createServer(api, {
    engine: engine(),
    topics: { kept: { history: 5, retainMs }, plain: { retainMs } },
    handlers: {
      tally: () => ({ runs: ++tallies }),
      order: () =>
        new Promise((resolve) => {
          executions++
          const order = executions
          release.push(() => resolve({ order }))
        }),
    },
  })
  const { port } = await server.listen()
  return `ws://127.0.0.1:${port}`
}

async function open(url: string, encoding: Encoding): Promise<RawClient> {
  const raw = await connectRaw(url, encoding)
  raws.push(raw)
  return raw
}

const publish = async (topicName: 'kept' | 'plain', from: number, to: number): Promise<void> => {
  for (let n = from; n <= to; n++) await server.publish(api[topicName], undefined, { n })
}

describeEachEngine(() => {
  describe.each<Encoding>(['json', 'msgpack'])('§12.1 resume (%s)', (encoding) => {
    it('replays what the subscriber missed, right after the confirmation, when the history holds it', async () => {
      const url = await start()
      const first = await open(url, encoding)
      first.send({ t: 'sub', id: 1, path: 'kept' })
      const confirmed = (await first.next()).output as { ch: number; seq: number; epoch: string }
      expect(confirmed).toMatchObject({ ch: expect.any(Number), seq: 0 })
      await publish('kept', 1, 2)
      expect((await first.take(2)).map((event) => event.seq)).toEqual([1, 2])
      first.ws.terminate()
      await expect.poll(() => server.topicStats.subscriptions).toBe(0)
      // Published while nobody listens: the channel keeps its history for retainMs.
      await publish('kept', 3, 5)
      expect(server.topicStats.channels).toBe(1)

      const back = await open(url, encoding)
      back.send({ t: 'sub', id: 1, path: 'kept', resume: { epoch: confirmed.epoch, seq: 2 } })
      expect(await back.next()).toEqual({ t: 'result', id: 1, output: { ch: confirmed.ch, seq: 2, epoch: confirmed.epoch } })
      const replayed = await back.take(3)
      expect(replayed.map((event) => [event.seq, (event.data as { n: number }).n])).toEqual([
        [3, 3],
        [4, 4],
        [5, 5],
      ])
      await publish('kept', 6, 6)
      expect(await back.next()).toMatchObject({ t: 'event', seq: 6 })
      expect(server.topicStats.resumed).toBe(1)
    })

    it('confirms from the latest seq when the history no longer reaches back: the client sees the gap', async () => {
      const url = await start()
      const first = await open(url, encoding)
      first.send({ t: 'sub', id: 1, path: 'kept' })
      const { ch, epoch } = (await first.next()).output as { ch: number; epoch: string }
      first.ws.terminate()
      await expect.poll(() => server.topicStats.subscriptions).toBe(0)
      await publish('kept', 1, 9) // history keeps 5: seqs 5..9
      const back = await open(url, encoding)
      back.send({ t: 'sub', id: 1, path: 'kept', resume: { epoch, seq: 0 } })
      expect(await back.next()).toEqual({ t: 'result', id: 1, output: { ch, seq: 9, epoch } })
      await publish('kept', 10, 10)
      expect(await back.next()).toMatchObject({ t: 'event', seq: 10 })
    })

    it('confirms from the latest seq for an unknown epoch (a seq of another server means nothing here)', async () => {
      const url = await start()
      const other = await open(url, encoding)
      other.send({ t: 'sub', id: 1, path: 'kept' })
      const { ch, epoch } = (await other.next()).output as { ch: number; epoch: string }
      await publish('kept', 1, 3)
      await other.take(3)
      const stranger = await open(url, encoding)
      stranger.send({ t: 'sub', id: 4, path: 'kept', resume: { epoch: 'elsewhere.1', seq: 1 } })
      expect(await stranger.next()).toEqual({ t: 'result', id: 4, output: { ch, seq: 3, epoch } })
      expect(server.topicStats.resumed).toBe(0)
    })

    it('keeps a channel without history for retainMs: a returning subscriber learns exactly what it missed', async () => {
      const url = await start()
      const first = await open(url, encoding)
      first.send({ t: 'sub', id: 1, path: 'plain' })
      const { ch, epoch } = (await first.next()).output as { ch: number; epoch: string }
      await publish('plain', 1, 1)
      await first.next()
      first.ws.terminate()
      await expect.poll(() => server.topicStats.subscriptions).toBe(0)
      await publish('plain', 2, 4)
      const back = await open(url, encoding)
      back.send({ t: 'sub', id: 1, path: 'plain', resume: { epoch, seq: 1 } })
      // No history to replay: confirmed from the latest, in the same epoch, so the gap is 3.
      expect(await back.next()).toEqual({ t: 'result', id: 1, output: { ch, seq: 4, epoch } })
    })

    it('with retainMs 0 forgets a channel with its last subscriber: a new epoch and a new channel number start', async () => {
      const url = await start(0)
      const first = await open(url, encoding)
      first.send({ t: 'sub', id: 1, path: 'plain' })
      const before = (await first.next()).output as { ch: number; epoch: string }
      first.ws.terminate()
      await expect.poll(() => server.topicStats.channels).toBe(0)
      const back = await open(url, encoding)
      back.send({ t: 'sub', id: 1, path: 'plain', resume: { epoch: before.epoch, seq: 0 } })
      const after = (await back.next()).output as { ch: number; epoch: string; seq: number }
      expect(after.epoch).not.toBe(before.epoch)
      // A number is never reused, so an event of the old incarnation could never pass for the new.
      expect(after.ch).not.toBe(before.ch)
      expect(after.seq).toBe(0)
    })

    it('forgets a retained channel after retainMs', async () => {
      const url = await start(50)
      const first = await open(url, encoding)
      first.send({ t: 'sub', id: 1, path: 'kept' })
      await first.next()
      first.ws.terminate()
      await expect.poll(() => server.topicStats.subscriptions).toBe(0)
      expect(server.topicStats.channels).toBe(1)
      await expect.poll(() => server.topicStats.channels).toBe(0)
    })

    it.each<[string, unknown]>([
      ['not an object', 'yes'],
      ['without an epoch', { seq: 1 }],
      ['with a negative seq', { epoch: 'a.1', seq: -1 }],
      ['with an epoch of bad characters', { epoch: 'a b', seq: 1 }],
    ])('answers a resume %s with BAD_REQUEST, keeping the connection', async (_name, resume) => {
      const url = await start()
      const raw = await open(url, encoding)
      raw.send({ t: 'sub', id: 3, path: 'kept', resume })
      expect(await raw.next()).toMatchObject({ t: 'error', id: 3, error: { code: 'BAD_REQUEST', message: expect.stringMatching(/resume/) } })
      raw.send({ t: 'sub', id: 4, path: 'plain' })
      expect(await raw.next()).toMatchObject({ t: 'result', id: 4 })
    })
  })
})

// Idempotent calls go through the engine too once it offers a shared dedupe window (issue 13).
describeEachEngine(() => {
  describe.each<Encoding>(['json', 'msgpack'])('§4.2 idempotency keys (%s)', (encoding) => {
    it('a retry on a new connection joins the run still in progress: one execution, both answered', async () => {
      const url = await start()
      const first = await open(url, encoding)
      first.send({ t: 'call', id: 1, path: 'order', input: { item: 'tea' }, key: 'order-abc' })
      await expect.poll(() => executions).toBe(1)
      // The connection drops mid-call; the handler is not aborted, since a retry may join it.
      first.ws.terminate()
      const retry = await open(url, encoding)
      retry.send({ t: 'call', id: 1, path: 'order', input: { item: 'tea' }, key: 'order-abc' })
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(executions).toBe(1)
      for (const go of release.splice(0)) go()
      expect(await retry.next()).toEqual({ t: 'result', id: 1, output: { order: 1 } })
      expect(server.stats.deduplicated).toBe(1)
    })

    it('a retry after the run finished gets the same outcome without running again', async () => {
      const url = await start()
      const first = await open(url, encoding)
      first.send({ t: 'call', id: 1, path: 'order', input: { item: 'tea' }, key: 'k1' })
      await expect.poll(() => executions).toBe(1)
      for (const go of release.splice(0)) go()
      const original = await first.next()
      first.send({ t: 'call', id: 2, path: 'order', input: { item: 'tea' }, key: 'k1' })
      expect(await first.next()).toEqual({ ...original, id: 2 })
      expect(executions).toBe(1)
      // Another key, or the same key on another path, runs anew.
      first.send({ t: 'call', id: 3, path: 'order', input: { item: 'tea' }, key: 'k2' })
      await expect.poll(() => executions).toBe(2)
    })

    it('the key decides, not the declaration: an idempotent procedure without a key runs every time; with one, once, whatever the input', async () => {
      // docs/protocol.md §4.2: `idempotent: true` is not on the wire.
      const url = await start()
      const raw = await open(url, encoding)
      expect(await raw.call(1, 'tally', { item: 'tea' })).toEqual({ t: 'result', id: 1, output: { runs: 1 } })
      expect(await raw.call(2, 'tally', { item: 'tea' })).toEqual({ t: 'result', id: 2, output: { runs: 2 } })
      raw.send({ t: 'call', id: 3, path: 'tally', input: { item: 'tea' }, key: 'same' })
      expect(await raw.next()).toEqual({ t: 'result', id: 3, output: { runs: 3 } })
      // The input is not compared: a reused key gets the first run's outcome.
      raw.send({ t: 'call', id: 4, path: 'tally', input: { item: 'coffee' }, key: 'same' })
      expect(await raw.next()).toEqual({ t: 'result', id: 4, output: { runs: 3 } })
      expect(tallies).toBe(3)
      // A key on a procedure not declared idempotent dedupes just the same.
      raw.send({ t: 'call', id: 5, path: 'order', input: { item: 'tea' }, key: 'same' })
      await expect.poll(() => executions).toBe(1)
      for (const go of release.splice(0)) go()
      expect(await raw.next()).toEqual({ t: 'result', id: 5, output: { order: 1 } })
      raw.send({ t: 'call', id: 6, path: 'order', input: { item: 'tea' }, key: 'same' })
      expect(await raw.next()).toEqual({ t: 'result', id: 6, output: { order: 1 } })
      expect(executions).toBe(1)
      expect(server.stats.deduplicated).toBe(2)
    })

    it.each<[string, unknown]>([
      ['empty', ''],
      ['too long', 'k'.repeat(65)],
      ['with a space', 'a b'],
      ['a number', 42],
    ])('answers a key that is %s with BAD_REQUEST, running nothing', async (_name, key) => {
      const url = await start()
      const raw = await open(url, encoding)
      raw.send({ t: 'call', id: 1, path: 'order', input: { item: 'tea' }, key })
      const answer: Message = await raw.next()
      expect(answer).toMatchObject({ t: 'error', id: 1, error: { code: 'BAD_REQUEST' } })
      expect(executions).toBe(0)
    })
  })
})
