/**
 * A server on an asynchronous engine (the fake of ./fake-engine.ts: delays and duplicates), over
 * real sockets: the session's answers that wait for the engine — a `sub` answered once the
 * engine holds the channel and its position was read, a `pub` answered once the engine assigned
 * its seq — keep §12's promises: events in order, each once, and a `sub` withdrawn before its
 * answer holds nothing. docs/protocol.md §12, §13.
 */
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { channelOf, router, topic } from '@patchbay/core'
import { createServer, type Engine, type PatchbayServer } from '@patchbay/server'
import { createClient, type Client } from '@patchbay/client'
import { connectRaw, type RawClient } from '../conformance/support.js'
import { deferred } from '../e2e/fixtures.js'
import { FakeEngine } from './fake-engine.js'

const api = router({
  room: topic({ params: z.object({ room: z.string() }), message: z.object({ n: z.number() }), publish: 'client' }),
})

let server: PatchbayServer<Engine> | undefined
const clients: Client<typeof api>[] = []
const raws: RawClient[] = []
afterEach(async () => {
  for (const raw of raws.splice(0)) raw.ws.terminate()
  await Promise.all(clients.splice(0).map((client) => client.close()))
  await server?.close()
  server = undefined
})

async function start(engine: FakeEngine, history = 1_000): Promise<string> {
  server = createServer(api, { handlers: {}, engine, topics: { room: { history } } })
  const { port } = await server.listen()
  return `ws://127.0.0.1:${port}`
}

function client(url: string): Client<typeof api> {
  const made = createClient(api, { url, WebSocket })
  clients.push(made)
  return made
}

describe('a server on an asynchronous engine', () => {
  it('delivers client publishes to every subscriber in order, each once, and answers each pub', async () => {
    const engine = new FakeEngine({ drop: 0, duplicate: 0.2, maxDelayMs: 2 }, 11)
    const url = await start(engine)
    const heard: number[][] = [[], []]
    const done = heard.map(() => deferred())
    const subscriptions = heard.map((seqs, i) =>
      client(url).room.subscribe({ room: 'r' }, (_message, { seq }) => {
        seqs.push(seq)
        if (seqs.length === 100) done[i]?.resolve()
      }),
    )
    await Promise.all(subscriptions.map((off) => off.ready))
    const publisher = client(url)
    const answers = await Promise.all(Array.from({ length: 100 }, (_, n) => publisher.room.publish({ room: 'r' }, { n })))
    await Promise.all(done.map((each) => each.promise))
    const expected = Array.from({ length: 100 }, (_, n) => n + 1)
    for (const seqs of heard) expect(seqs).toEqual(expected)
    for (const answer of answers) expect(answer).toEqual({ delivered: 2 })
  })

  it('lets the engine go of a channel whose only sub was withdrawn before its answer', async () => {
    const engine = new FakeEngine({ drop: 0, duplicate: 0, maxDelayMs: 5 }, 5)
    const url = await start(engine)
    const raw = await connectRaw(url, 'json')
    raws.push(raw)
    raw.send({ t: 'sub', id: 1, path: 'room', params: { room: 'gone' } })
    raw.send({ t: 'unsub', id: 1 })
    // Everything sent on one connection is handled in order: a later sub's answer comes after.
    raw.send({ t: 'sub', id: 2, path: 'room', params: { room: 'other' } })
    expect(await raw.next()).toMatchObject({ t: 'result', id: 2 })
    await engine.settled()
    expect([...engine.subscribed]).toEqual([channelOf('room', { room: 'other' })])
    expect(server?.topicStats.subscriptions).toBe(1)
  })

  it('reports what the engine lost and history cannot repair to the client as lags of the exact size', async () => {
    // History 0: nothing can be repaired, so every drop must reach the application as a lag.
    const engine = new FakeEngine({ drop: 0.3, duplicate: 0.1, maxDelayMs: 2 }, 23)
    const url = await start(engine, 0)
    const seqs: number[] = []
    const lags: { missed: number | undefined; seq: number }[] = []
    const last = deferred()
    const total = 201
    const off = client(url).room.subscribe(
      { room: 'r' },
      (_message, { seq }) => {
        seqs.push(seq)
        if (seq === total) last.resolve()
      },
      { onLag: (lag) => lags.push(lag) },
    )
    await off.ready
    for (let n = 1; n < total; n++) await server?.publish(api.room, { room: 'r' }, { n })
    // A loss at the very end shows with the next event: the last one goes through unharmed.
    await engine.settled()
    engine.setFaults({ drop: 0, duplicate: 0, maxDelayMs: 0 })
    await server?.publish(api.room, { room: 'r' }, { n: total })
    await last.promise
    const missed = lags.reduce((sum, lag) => sum + (lag.missed ?? Number.NaN), 0)
    expect(lags.length).toBeGreaterThan(0)
    expect(seqs.length + missed).toBe(total)
    expect(new Set(seqs).size).toBe(seqs.length)
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    expect(server?.topicStats.lost).toBe(missed)
  })
})
