/**
 * §12 two subscriptions to one channel on one connection; §12.1 a resume beyond the
 * channel's latest message, malformed resumes and foreign epochs; §13 the order of a pub's
 * result and the publisher's own event, and what `delivered` counts: raw frames against a
 * real server, both encodings.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { router, topic, type Encoding } from '@patchbay/core'
import { createServer, type Engine, type PatchbayServer } from '@patchbay/server'
import { connectRaw, ENCODINGS, roundTrip, type Message, type RawClient } from './support.js'
import { ENGINES, describeEachEngine, engine } from '../support/engines.js'

const api = router({
  room: topic({ params: z.object({ room: z.string() }), message: z.object({ n: z.number() }) }),
  kept: topic({ message: z.object({ n: z.number() }) }),
  chat: topic({ message: z.object({ n: z.number() }), publish: 'client' }),
})

let server: PatchbayServer<Engine>
let url = ''
const sockets: RawClient[] = []
afterEach(async () => {
  for (const client of sockets.splice(0)) client.ws.terminate()
  await server.close()
})

async function open(encoding: Encoding): Promise<RawClient> {
  server = createServer(api, { topics: { kept: { history: 10 } }, handlers: {}, engine: engine() })
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
  url = `ws://127.0.0.1:${port}`
  return another(encoding)
}

/** One more raw client to the running server. */
async function another(encoding: Encoding): Promise<RawClient> {
  const client = await connectRaw(url, encoding)
  sockets.push(client)
  return client
}


type Confirmed = { ch: number; seq: number; epoch: string }

async function subscribe(client: RawClient, message: Message): Promise<Confirmed> {
  client.send(message)
  const answer = await client.next()
  expect(answer).toMatchObject({ t: 'result', id: message.id })
  return answer.output as Confirmed
}

describeEachEngine(() => {
  describe.each<Encoding>(ENCODINGS)('§12 two subscriptions to one channel on one connection (%s)', (encoding) => {
    it('share the channel: each event comes once per connection while either lives; one unsub leaves the other', async () => {
      // docs/protocol.md §12
      const client = await open(encoding)
      const first = await subscribe(client, { t: 'sub', id: 1, path: 'room', params: { room: 'a' } })
      const second = await subscribe(client, { t: 'sub', id: 2, path: 'room', params: { room: 'a' } })
      expect(second.ch).toBe(first.ch)
      expect(server.topicStats.subscriptions).toBe(2)
      await server.publish(api.room, { room: 'a' }, { n: 1 })
      expect(await roundTrip(client)).toEqual([{ t: 'event', ch: first.ch, seq: 1, data: { n: 1 } }])

      client.send({ t: 'unsub', id: 1 })
      expect(await roundTrip(client)).toEqual([])
      expect(server.topicStats.subscriptions).toBe(1)
      await server.publish(api.room, { room: 'a' }, { n: 2 })
      expect(await roundTrip(client)).toEqual([{ t: 'event', ch: first.ch, seq: 2, data: { n: 2 } }])

      client.send({ t: 'unsub', id: 2 })
      expect(await roundTrip(client)).toEqual([])
      expect(server.topicStats.subscriptions).toBe(0)
      await server.publish(api.room, { room: 'a' }, { n: 3 })
      expect(await roundTrip(client)).toEqual([])
    })

    it('a second subscription that resumes gets its replay even though the first already had those events', async () => {
      // docs/protocol.md §12: a replay answers the sub that asked for it.
      const client = await open(encoding)
      const first = await subscribe(client, { t: 'sub', id: 1, path: 'kept' })
      await server.publish(api.kept, undefined, { n: 1 })
      await server.publish(api.kept, undefined, { n: 2 })
      expect((await roundTrip(client)).map((event) => event.seq)).toEqual([1, 2])
      const second = await subscribe(client, { t: 'sub', id: 2, path: 'kept', resume: { epoch: first.epoch, seq: 1 } })
      expect(second).toEqual({ ch: first.ch, seq: 1, epoch: first.epoch })
      expect(await roundTrip(client)).toEqual([{ t: 'event', ch: first.ch, seq: 2, data: { n: 2 } }])
      await server.publish(api.kept, undefined, { n: 3 })
      expect(await roundTrip(client)).toEqual([{ t: 'event', ch: first.ch, seq: 3, data: { n: 3 } }])
    })
  })

  describe.each<Encoding>(ENCODINGS)('§12.1 resume beyond the latest message (%s)', (encoding) => {
    it('is refused with BAD_REQUEST; nothing is registered and the id is free', async () => {
      // docs/protocol.md §12.1
      const client = await open(encoding)
      const first = await subscribe(client, { t: 'sub', id: 1, path: 'kept' })
      await server.publish(api.kept, undefined, { n: 1 })
      await server.publish(api.kept, undefined, { n: 2 })
      expect(await roundTrip(client)).toHaveLength(2)
      client.send({ t: 'sub', id: 2, path: 'kept', resume: { epoch: first.epoch, seq: 3 } })
      expect(await client.next()).toEqual({
        t: 'error',
        id: 2,
        error: { code: 'BAD_REQUEST', message: "resume seq is beyond the channel's latest message" },
      })
      expect(server.topicStats.subscriptions).toBe(1)
      // The latest itself is fine (nothing missed), and so is any seq of another epoch.
      expect(await subscribe(client, { t: 'sub', id: 2, path: 'kept', resume: { epoch: first.epoch, seq: 2 } })).toEqual({ ch: first.ch, seq: 2, epoch: first.epoch })
      expect(await subscribe(client, { t: 'sub', id: 3, path: 'kept', resume: { epoch: 'elsewhere.1', seq: 99 } })).toEqual({ ch: first.ch, seq: 2, epoch: first.epoch })
      expect(await roundTrip(client)).toEqual([])
    })

    it('is refused for a channel kept without subscribers, which stays kept', async () => {
      // docs/protocol.md §12.1
      const client = await open(encoding)
      const first = await subscribe(client, { t: 'sub', id: 1, path: 'kept' })
      await server.publish(api.kept, undefined, { n: 1 })
      client.send({ t: 'unsub', id: 1 })
      expect(await roundTrip(client)).toHaveLength(1)
      client.send({ t: 'sub', id: 2, path: 'kept', resume: { epoch: first.epoch, seq: 2 } })
      expect(await client.next()).toMatchObject({ t: 'error', id: 2, error: { code: 'BAD_REQUEST' } })
      expect(server.topicStats.channels).toBe(1)
      // Still the same channel: a resume from seq 0 replays its one message.
      await subscribe(client, { t: 'sub', id: 3, path: 'kept', resume: { epoch: first.epoch, seq: 0 } })
      expect(await roundTrip(client)).toEqual([{ t: 'event', ch: first.ch, seq: 1, data: { n: 1 } }])
    })
  })
})

describeEachEngine(() => {
  describe.each<Encoding>(ENCODINGS)('§12.1 resume points (%s)', (encoding) => {
    const EPOCH = 'resume epoch must be 1 to 64 characters of [A-Za-z0-9_.-]'
    const SEQ = 'resume seq must be a non-negative safe integer'
    const OBJECT = 'resume must be an object { epoch, seq }'

    it('answers a malformed resume with BAD_REQUEST naming the faulty field; nothing registered, the connection lives', async () => {
      // docs/protocol.md §12.1 "A malformed resume"
      const client = await open(encoding)
      const cases: [unknown, string][] = [
        [null, OBJECT],
        ['k3J9xQ2mPa.7', OBJECT],
        [[1, 2], OBJECT],
        [{ seq: 1 }, EPOCH],
        [{ epoch: '', seq: 1 }, EPOCH],
        [{ epoch: 7, seq: 1 }, EPOCH],
        [{ epoch: 'e'.repeat(65), seq: 1 }, EPOCH],
        [{ epoch: 'a/b', seq: 1 }, EPOCH],
        [{ epoch: 'é', seq: 1 }, EPOCH],
        // The epoch is checked first.
        [{ epoch: '', seq: -1 }, EPOCH],
        [{ epoch: 'a.1' }, SEQ],
        [{ epoch: 'a.1', seq: -1 }, SEQ],
        [{ epoch: 'a.1', seq: 1.5 }, SEQ],
        [{ epoch: 'a.1', seq: '1' }, SEQ],
        [{ epoch: 'a.1', seq: 2 ** 53 }, SEQ],
      ]
      let id = 0
      for (const [resume, message] of cases) {
        client.send({ t: 'sub', id: ++id, path: 'kept', resume })
        expect(await client.next(), JSON.stringify(resume)).toEqual({ t: 'error', id, error: { code: 'BAD_REQUEST', message } })
      }
      expect(server.topicStats.subscriptions).toBe(0)
      // Each id is free again: the same id subscribes now.
      await subscribe(client, { t: 'sub', id, path: 'kept' })
    })

    it('answers a well-formed epoch it did not make with the current epoch and the latest seq, and replays nothing', async () => {
      // docs/protocol.md §12.1: "another epoch"; the epoch is opaque, any 1–64 of [A-Za-z0-9_.-].
      const client = await open(encoding)
      const first = await subscribe(client, { t: 'sub', id: 1, path: 'kept' })
      for (let n = 1; n <= 3; n++) await server.publish(api.kept, undefined, { n })
      expect(await roundTrip(client)).toHaveLength(3)
      // The history holds all three, but seqs of another epoch are not comparable: no replay.
      let latest = 3
      for (const epoch of ['abc', 'Z'.repeat(64), `${first.epoch}x`]) {
        const back = await another(encoding)
        expect(await subscribe(back, { t: 'sub', id: 1, path: 'kept', resume: { epoch, seq: 1 } })).toEqual({ ch: first.ch, seq: latest, epoch: first.epoch })
        expect(await roundTrip(back)).toEqual([])
        // Events continue from the latest seq.
        await server.publish(api.kept, undefined, { n: ++latest })
        expect(await roundTrip(back)).toEqual([{ t: 'event', ch: first.ch, seq: latest, data: { n: latest } }])
        expect(await roundTrip(client)).toHaveLength(1)
        back.ws.terminate()
      }
    })
  })
})

// §13's order is the in-process engine's (one step); an engine in another process answers
// when it has taken the message, in either order with the event (docs/protocol.md §13).
describeEachEngine(() => {
  describe.each<Encoding>(ENCODINGS)('§13 a pub and the publisher\'s own event (%s)', (encoding) => {
    it('sends the publisher its own event before the pub result, nothing between; delivered counts its connection once', async () => {
      // docs/protocol.md §13 "Order and delivered"
      const publisher = await open(encoding)
      await subscribe(publisher, { t: 'sub', id: 1, path: 'chat' })
      // A second subscription of the same connection to the same channel: still one connection.
      const confirmed = await subscribe(publisher, { t: 'sub', id: 2, path: 'chat' })
      const other = await another(encoding)
      await subscribe(other, { t: 'sub', id: 1, path: 'chat' })
      publisher.send({ t: 'pub', id: 3, path: 'chat', data: { n: 1 } })
      expect(await roundTrip(publisher)).toEqual([
        { t: 'event', ch: confirmed.ch, seq: 1, data: { n: 1 } },
        { t: 'result', id: 3, output: { delivered: 2 } },
      ])
      expect(await roundTrip(other)).toEqual([{ t: 'event', ch: confirmed.ch, seq: 1, data: { n: 1 } }])
      // A publisher that is not subscribed is not counted.
      const outsider = await another(encoding)
      outsider.send({ t: 'pub', id: 1, path: 'chat', data: { n: 2 } })
      expect(await roundTrip(outsider)).toEqual([{ t: 'result', id: 1, output: { delivered: 2 } }])
    })
  })
}, ENGINES.filter((each) => each.name === 'memory'))
