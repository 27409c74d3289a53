/**
 * Raw-frame conformance for topics (docs/protocol.md §12, §13), both codecs.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { router, topic, type Encoding } from '@patchbay/core'
import { createServer, type Engine, type PatchbayServer } from '@patchbay/server'
import { connectRaw, type RawClient } from '../conformance/support.js'
import { describeEachEngine, engine } from '../support/engines.js'

const api = router({
  room: topic({ params: z.object({ room: z.string() }), message: z.object({ text: z.string() }) }),
  shout: topic({ params: z.object({ room: z.string() }), message: z.object({ text: z.string() }), publish: 'client' }),
})

let server: PatchbayServer<Engine>
const sockets: RawClient[] = []
afterEach(async () => {
  for (const client of sockets.splice(0)) client.ws.terminate()
  await server?.close()
})

async function start(): Promise<string> {
  server = createServer(api, { handlers: {}, engine: engine() })
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
  return `ws://127.0.0.1:${port}`
}

async function open(url: string, encoding: Encoding): Promise<RawClient> {
  const client = await connectRaw(url, encoding)
  sockets.push(client)
  return client
}

describeEachEngine(() => {
  describe.each<Encoding>(['json', 'msgpack'])('§12 topics over %s', (encoding) => {
    it('sub is confirmed with the channel number and seq; events carry the number, with consecutive seq', async () => {
      const client = await open(await start(), encoding)
      client.send({ t: 'sub', id: 1, path: 'room', params: { room: 'a' } })
      const confirmed = await client.next()
      expect(confirmed).toEqual({ t: 'result', id: 1, output: { ch: expect.any(Number), seq: 0, epoch: expect.stringMatching(/^[\w-]+\.\d+$/) } })
      const { ch } = confirmed.output as { ch: number }
      expect(Number.isSafeInteger(ch) && ch > 0).toBe(true)
      await server.publish(api.room, { room: 'a' }, { text: 'one' })
      await server.publish(api.room, { room: 'a' }, { text: 'two' })
      expect(await client.next()).toEqual({ t: 'event', ch, seq: 1, data: { text: 'one' } })
      expect(await client.next()).toEqual({ t: 'event', ch, seq: 2, data: { text: 'two' } })
    })

    it('numbers channels apart: other params get another number, the same channel from another connection the same', async () => {
      const url = await start()
      const client = await open(url, encoding)
      const chOf = async (id: number, path: string, params?: unknown): Promise<number> => {
        client.send(params === undefined ? { t: 'sub', id, path } : { t: 'sub', id, path, params })
        const answer = await client.next()
        expect(answer).toMatchObject({ t: 'result', id })
        return (answer.output as { ch: number }).ch
      }
      const a = await chOf(1, 'room', { room: 'a' })
      const b = await chOf(2, 'room', { room: 'b' })
      expect(b).not.toBe(a)
      // The same channel from another connection: the same number (one frame for everyone).
      const other = await open(url, encoding)
      other.send({ t: 'sub', id: 7, path: 'room', params: { room: 'a' } })
      expect(await other.next()).toMatchObject({ t: 'result', id: 7, output: { ch: a } })
      // Events of each channel carry its own number.
      await server.publish(api.room, { room: 'b' }, { text: 'to b' })
      expect(await client.next()).toEqual({ t: 'event', ch: b, seq: 1, data: { text: 'to b' } })
      await server.publish(api.room, { room: 'a' }, { text: 'to a' })
      expect(await client.next()).toEqual({ t: 'event', ch: a, seq: 1, data: { text: 'to a' } })
    })

    it('sends the same bytes to every subscriber of a codec', async () => {
      const url = await start()
      const clients = [await open(url, encoding), await open(url, encoding)]
      for (const client of clients) client.send({ t: 'sub', id: 1, path: 'room', params: { room: 'same' } })
      while (server.topicStats.subscriptions < 2) await new Promise((resolve) => setImmediate(resolve))
      await server.publish(api.room, { room: 'same' }, { text: 'fan' })
      // Frame 0 is the sub's result, frame 1 the event.
      await Promise.all(clients.map((client) => client.nth(1)))
      expect(Buffer.compare(clients[0]!.receivedBytes[1]!, clients[1]!.receivedBytes[1]!)).toBe(0)
      // Encoded to bytes once for both, the event still goes out as the codec's kind of frame
      // (text under JSON, binary under msgpack): the raw client records any other kind.
      expect(clients.map((client) => client.protocolError)).toEqual([undefined, undefined])
    })

    it('closes 4409 on a sub reusing a live subscription id; unsub frees it; unknown unsub is ignored', async () => {
      const client = await open(await start(), encoding)
      client.send({ t: 'sub', id: 7, path: 'room', params: { room: 'a' } })
      await client.next()
      client.send({ t: 'unsub', id: 7 })
      client.send({ t: 'unsub', id: 999 })
      client.send({ t: 'sub', id: 7, path: 'room', params: { room: 'b' } })
      expect(await client.next()).toMatchObject({ t: 'result', id: 7 })
      expect(server.topicStats.subscriptions).toBe(1)
      client.send({ t: 'sub', id: 7, path: 'room', params: { room: 'c' } })
      expect((await client.closed).code).toBe(4409)
    })

    it('refuses unknown topics, bad params, and publishing to a server-only topic', async () => {
      const client = await open(await start(), encoding)
      client.send({ t: 'sub', id: 1, path: 'nope' })
      expect(await client.next()).toMatchObject({ id: 1, error: { code: 'NOT_FOUND' } })
      client.send({ t: 'sub', id: 2, path: 'room', params: { room: 1 } })
      expect(await client.next()).toMatchObject({ id: 2, error: { code: 'BAD_REQUEST' } })
      client.send({ t: 'pub', id: 3, path: 'room', params: { room: 'a' }, data: { text: 'x' } })
      expect(await client.next()).toMatchObject({ id: 3, error: { code: 'FORBIDDEN' } })
      client.send({ t: 'pub', id: 4, path: 'shout', params: { room: 'a' }, data: { text: 'x' } })
      expect(await client.next()).toEqual({ t: 'result', id: 4, output: { delivered: 0 } })
      client.send({ t: 'unsub', id: 'x' })
      expect((await client.closed).code).toBe(4400)
    })
  })
})
