/**
 * §12 two subscriptions to one channel on one connection, and §12.1 a resume beyond the
 * channel's latest message: raw frames against a real server, both encodings.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { router, topic, type Encoding } from '@patchbay/core'
import { createServer, type Engine, type PatchbayServer } from '@patchbay/server'
import { connectRaw, ENCODINGS, type Message, type RawClient } from './support.js'
import { describeEachEngine, engine } from '../support/engines.js'

const api = router({
  room: topic({ params: z.object({ room: z.string() }), message: z.object({ n: z.number() }) }),
  kept: topic({ message: z.object({ n: z.number() }) }),
})

let server: PatchbayServer<Engine>
const sockets: RawClient[] = []
afterEach(async () => {
  for (const client of sockets.splice(0)) client.ws.terminate()
  await server.close()
})

async function open(encoding: Encoding): Promise<RawClient> {
  server = createServer(api, { topics: { kept: { history: 10 } }, handlers: {}, engine: engine() })
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
  const client = await connectRaw(`ws://127.0.0.1:${port}`, encoding)
  sockets.push(client)
  return client
}

/** Every frame the server sent before the pong to a ping sent now. */
async function roundTrip(client: RawClient): Promise<Message[]> {
  client.send({ t: 'ping' })
  const frames: Message[] = []
  for (;;) {
    const frame = await client.next()
    if (frame.t === 'pong') return frames
    frames.push(frame)
  }
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
