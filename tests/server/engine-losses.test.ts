/**
 * Events a topic engine lost for good reach the client as a counted `lag` (docs/protocol.md
 * §12.1 "Events lost on their way", §14), over real sockets on the fake engine of
 * ./fake-engine.ts: one notice per connection even at the end of what was published, merged
 * with a `drop` topic's own count so that one notice counts both, and reported once by
 * Patchbay's client.
 */
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { router, topic } from '@patchbay/core'
import { createServer, type Engine, type PatchbayServer } from '@patchbay/server'
import { createClient, type Client, type LagEvent } from '@patchbay/client'
import { connectRaw, type RawClient } from '../conformance/support.js'
import { deferred } from '../e2e/fixtures.js'
import { FakeEngine, NO_FAULTS } from './fake-engine.js'

const api = router({
  room: topic({ params: z.object({ room: z.string() }), message: z.object({ n: z.number() }) }),
  /** A drop-policy topic whose 1-byte mark drops every event behind the first of a burst (§14). */
  feed: topic({ message: z.object({ n: z.number() }), backpressure: 'drop' }),
})
const DROP_ALL = { drop: 1, duplicate: 0, maxDelayMs: 0 }

let server: PatchbayServer<Engine> | undefined
const raws: RawClient[] = []
const clients: Client<typeof api>[] = []
afterEach(async () => {
  for (const raw of raws.splice(0)) raw.ws.terminate()
  await Promise.all(clients.splice(0).map((client) => client.close()))
  await server?.close()
  server = undefined
})

async function start(engine: FakeEngine, positionCheckMs = 0): Promise<string> {
  server = createServer(api, { handlers: {}, engine, positionCheckMs, topics: { feed: { highWaterMark: 1 } } })
  const { port } = await server.listen()
  return `ws://127.0.0.1:${port}`
}

describe('events the engine lost (docs/protocol.md §14 counted lag)', () => {
  it('on a drop topic, one notice counts the events dropped for the connection and those the engine lost', async () => {
    const engine = new FakeEngine(NO_FAULTS)
    const raw = await connectRaw(await start(engine), 'json')
    raws.push(raw)
    raw.send({ t: 'sub', id: 1, path: 'feed' })
    const { ch } = (await raw.next()).output as { ch: number }
    // In one tick: a burst (the first is sent, 2..5 dropped and counted for this connection),
    // 6 and 7 lost by the engine, then 8, which reveals the loss (history 0: gone for good).
    for (let n = 1; n <= 5; n++) void server?.publish(api.feed, undefined, { n })
    engine.setFaults(DROP_ALL)
    for (let n = 6; n <= 7; n++) void server?.publish(api.feed, undefined, { n })
    engine.setFaults(NO_FAULTS)
    void server?.publish(api.feed, undefined, { n: 8 })
    await engine.settled()
    expect(await raw.take(2)).toEqual([
      { t: 'event', ch, seq: 1, data: { n: 1 } },
      // 2..5 dropped here, 6..7 lost, 8 dropped here: seven, through 8, in one notice.
      { t: 'lag', ch, seq: 8, missed: 7 },
    ])
    raw.send({ t: 'ping' })
    expect(await raw.next()).toEqual({ t: 'pong' })
    expect(server?.topicStats.lost).toBe(2)
  })

  it('the client reports a lost last event once, with its count, and the next event without a gap', async () => {
    const engine = new FakeEngine(NO_FAULTS)
    const url = await start(engine, 100)
    const client = createClient(api, { url, WebSocket })
    clients.push(client)
    const seqs: number[] = []
    const lags: LagEvent[] = []
    const lagged = deferred()
    const third = deferred()
    const off = client.room.subscribe(
      { room: 'r' },
      (_message, { seq }) => {
        seqs.push(seq)
        if (seq === 3) third.resolve()
      },
      {
        onLag: (lag) => {
          lags.push(lag)
          lagged.resolve()
        },
      },
    )
    await off.ready
    await server?.publish(api.room, { room: 'r' }, { n: 1 })
    engine.setFaults(DROP_ALL)
    await server?.publish(api.room, { room: 'r' }, { n: 2 })
    // Nothing follows it: the position check finds it (history 0: a counted lag, after a second check).
    await lagged.promise
    engine.setFaults(NO_FAULTS)
    await server?.publish(api.room, { room: 'r' }, { n: 3 })
    await third.promise
    expect(seqs).toEqual([1, 3])
    expect(lags).toEqual([{ missed: 1, seq: 2 }])
  })
})
