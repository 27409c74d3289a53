/**
 * `server.history(topic, params, { since, limit })` (docs/guide/topics.md, "History"): the
 * events a channel still keeps, typed as the topic's messages, read from the engine: at once
 * on the memory engine, as a promise on an asynchronous one (the fake, Redis), the same
 * answers on each.
 */
import { afterEach, expect, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import { ErrorCode, PatchbayError, router, topic } from '@patchbay/core'
import { createServer, type AsyncEngine, type Engine, type PatchbayServer, type TopicHistory } from '@patchbay/server'
import { connectRaw, type RawClient } from '../conformance/support.js'
import { describeEachEngine, engine } from '../support/engines.js'
import { FakeEngine, NO_FAULTS } from './fake-engine.js'

const api = router({
  room: topic({ params: z.object({ room: z.string() }), message: z.object({ n: z.number(), at: z.string().transform((at) => at.length) }) }),
  bare: topic({ message: z.object({ n: z.number() }) }),
})

let server: PatchbayServer<Engine> | undefined
const raws: RawClient[] = []
afterEach(async () => {
  for (const raw of raws.splice(0)) raw.ws.terminate()
  await server?.close()
  server = undefined
})

/** A server whose `room` keeps 5 events, with 8 published to room `r` (a subscriber holds it). */
async function published(made: Engine): Promise<{ server: PatchbayServer<Engine>; epoch: string }> {
  const started = createServer(api, { handlers: {}, engine: made, topics: { room: { history: 5 } } })
  server = started
  const { port } = await started.listen()
  const raw = await connectRaw(`ws://127.0.0.1:${port}`, 'json')
  raws.push(raw)
  raw.send({ t: 'sub', id: 1, path: 'room', params: { room: 'r' } })
  const { epoch } = (await raw.next()).output as { epoch: string }
  for (let n = 1; n <= 8; n++) await started.publish(api.room, { room: 'r' }, { n, at: 'x'.repeat(n) })
  return { server: started, epoch }
}

const seqs = (history: TopicHistory<{ n: number }>): number[] => history.events.map((event) => event.seq)

describeEachEngine(() => {
  it('answers the newest events it keeps, or the first `limit` after `since`, oldest first, with the epoch and latest seq', async () => {
    const { server, epoch } = await published(engine())
    const all = await server.history(api.room, { room: 'r' })
    // The topic keeps 5: seqs 4..8, with their data as the message schema output it.
    expect(all).toEqual({ epoch, seq: 8, events: [4, 5, 6, 7, 8].map((n) => ({ seq: n, data: { n, at: n } })) })
    expect(seqs(await server.history(api.room, { room: 'r' }, { limit: 2 }))).toEqual([7, 8])
    expect(seqs(await server.history(api.room, { room: 'r' }, { since: 5 }))).toEqual([6, 7, 8])
    expect(seqs(await server.history(api.room, { room: 'r' }, { since: 5, limit: 2 }))).toEqual([6, 7])
    // Since a seq history no longer reaches: what it keeps (the gap shows in seq).
    expect(seqs(await server.history(api.room, { room: 'r' }, { since: 1 }))).toEqual([4, 5, 6, 7, 8])
    expect(await server.history(api.room, { room: 'r' }, { since: 8 })).toEqual({ epoch, seq: 8, events: [] })
    // A topic that keeps none: the position only.
    await server.publish(api.bare, undefined, { n: 1 })
    expect((await server.history(api.bare, undefined)).events).toEqual([])
  })

  it('validates params as publish does (BAD_REQUEST), and since and limit', async () => {
    const { server } = await published(engine())
    const bad = (() => {
      try {
        return server.history(api.room, { room: 7 } as unknown as { room: string })
      } catch (error) {
        return error
      }
    })()
    expect(bad).toBeInstanceOf(PatchbayError)
    expect(bad).toMatchObject({ code: ErrorCode.BAD_REQUEST })
    expect(() => server.history(api.room, { room: 'r' }, { limit: 0 })).toThrow(RangeError)
    expect(() => server.history(api.room, { room: 'r' }, { since: -1 })).toThrow(RangeError)
  })
})

it('is typed from the topic: at once on the memory engine, a promise on an asynchronous one', () => {
  const memory = createServer(api, { handlers: {} })
  expectTypeOf(memory.history(api.room, { room: 'r' })).toEqualTypeOf<TopicHistory<{ n: number; at: number }>>()
  const remote = createServer(api, { handlers: {}, engine: new FakeEngine(NO_FAULTS) as AsyncEngine })
  expectTypeOf(remote.history(api.bare, undefined, { limit: 1 })).toEqualTypeOf<Promise<TopicHistory<{ n: number }>>>()
  void memory.close()
  void remote.close()
})

it('rejects with UNAVAILABLE while an asynchronous engine cannot be reached', async () => {
  const fake = new FakeEngine(NO_FAULTS)
  const { server } = await published(fake)
  fake.setDown(true)
  await expect(server.history(api.room, { room: 'r' })).rejects.toMatchObject({ code: ErrorCode.UNAVAILABLE })
})
