import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { PatchbayError, procedure, router, topic, type Encoding } from '@patchbay/core'
import { createServer, type Engine, type PatchbayServer } from '@patchbay/server'
import { createClient, type Client } from '@patchbay/client'
import { closeAfterEach } from '../support/teardown.js'
import { describeEachEngine, engine } from '../support/engines.js'
import { codec } from '../support/codecs.js'
import { toWire } from '../support/wire.js'

const Message = z.object({ from: z.string(), text: z.string().min(1) })
const api = router({
  chat: {
    room: topic({ params: z.object({ room: z.string() }), message: Message }),
    open: topic({ params: z.object({ room: z.string() }), message: Message, publish: 'client' }),
    secret: topic({ params: z.object({ room: z.string() }), message: Message }),
  },
  ticker: topic({ message: z.number() }),
  noop: procedure({ output: z.null() }),
})

let server: PatchbayServer<Engine>
const clients = closeAfterEach<Client<typeof api>>(async () => {
  await server?.close()
})

async function start(limits: { maxSubscriptions?: number; maxParamsLength?: number } = {}): Promise<string> {
  server = createServer(api, {
    engine: engine(),
    limits,
    context: ({ url }) => ({ user: url.searchParams.get('user') }),
    handlers: { noop: () => null },
    topics: {
      chat: {
        // Forgotten with the last subscriber, so these tests can see a channel go.
        room: { retainMs: 0 },
        secret: { authorize: ({ ctx, params }) => ctx.user === 'admin' && params.room !== 'nope' },
        open: { authorizePublish: ({ data }) => data.text !== 'forbidden words' },
      },
    },
  })
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
  return `ws://127.0.0.1:${port}`
}

function client(url: string, encoding: Encoding): Client<typeof api> {
  const made = createClient(api, { url, WebSocket, encodings: [codec(encoding)] })
  clients.push(made)
  return made
}

/** Collects what a listener hears and lets a test wait for the n-th message. */
function collector<T>() {
  const seen: { message: T; seq: number }[] = []
  let wake: (() => void) | undefined
  let want = 0
  return {
    seen,
    listener: (message: T, meta: { seq: number }) => {
      seen.push({ message, seq: meta.seq })
      if (wake !== undefined && seen.length >= want) wake()
    },
    until: (count: number) =>
      new Promise<void>((resolve) => {
        if (seen.length >= count) return resolve()
        want = count
        wake = resolve
      }),
  }
}

async function failure(promise: Promise<unknown>): Promise<PatchbayError> {
  const error = await promise.then(() => undefined, (reason: unknown) => reason)
  expect(error).toBeInstanceOf(PatchbayError)
  return error as PatchbayError
}

describeEachEngine(() => {
  describe.each<Encoding>(['json', 'msgpack'])('topics over %s', (encoding) => {
    it('delivers typed messages in publish order with consecutive sequence numbers', async () => {
      const url = await start()
      const alice = client(url, encoding)
      const heard = collector<{ from: string; text: string }>()
      const off = alice.chat.room.subscribe({ room: 'lobby' }, heard.listener)
      await off.ready
      for (let i = 1; i <= 100; i++) await server.publish(api.chat.room, { room: 'lobby' }, { from: 'srv', text: `m${i}` })
      await heard.until(100)
      expect(heard.seen.map((entry) => entry.message.text)).toEqual(Array.from({ length: 100 }, (_, i) => `m${i + 1}`))
      expect(heard.seen.map((entry) => entry.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
    })

    it('multiplexes many channels on one socket; each listener hears only its own', async () => {
      const url = await start()
      const alice = client(url, encoding)
      const rooms = Array.from({ length: 50 }, (_, i) => `room-${i}`)
      const heard = rooms.map(() => collector<{ text: string }>())
      const offs = rooms.map((room, i) => alice.chat.room.subscribe({ room }, heard[i]!.listener))
      await Promise.all(offs.map((off) => off.ready))
      const ticks = collector<number>()
      await alice.ticker.subscribe(ticks.listener).ready
      expect(server.topicStats.channels).toBe(51)
      for (const room of rooms) await server.publish(api.chat.room, { room }, { from: 'srv', text: room })
      await server.publish(api.ticker, undefined, 42)
      await Promise.all(heard.map((entry) => entry.until(1)))
      await ticks.until(1)
      heard.forEach((entry, i) => expect(entry.seen.map((seen) => seen.message.text)).toEqual([rooms[i]]))
      expect(ticks.seen[0]?.message).toBe(42)
    })

    it('keeps one wire subscription however many local listeners, and ends it with the last', async () => {
      const url = await start()
      const alice = client(url, encoding)
      const a = collector<{ text: string }>()
      const b = collector<{ text: string }>()
      const offA = alice.chat.room.subscribe({ room: 'x' }, a.listener)
      const offB = alice.chat.room.subscribe({ room: 'x' }, b.listener)
      await Promise.all([offA.ready, offB.ready])
      expect(server.topicStats.subscriptions).toBe(1)
      await server.publish(api.chat.room, { room: 'x' }, { from: 's', text: 'both' })
      await Promise.all([a.until(1), b.until(1)])
      offA()
      // Ordered after the unsubscribe (frames of one socket arrive in order): the wire sub stays.
      await alice.noop()
      expect(server.topicStats.subscriptions).toBe(1)
      await server.publish(api.chat.room, { room: 'x' }, { from: 's', text: 'only b' })
      await b.until(2)
      expect(a.seen).toHaveLength(1)
      offB()
      await alice.noop()
      expect(server.topicStats).toMatchObject({ subscriptions: 0, channels: 0 })
      expect(await server.publish(api.chat.room, { room: 'x' }, { from: 's', text: 'nobody' })).toBe(0)
    })

    it('encodes a publish once per codec, whatever the number of subscribers', async () => {
      const url = await start()
      const subscribers = Array.from({ length: 40 }, (_, i) => client(url, i % 2 === 0 ? 'json' : 'msgpack'))
      const heard = subscribers.map(() => collector<{ text: string }>())
      await Promise.all(subscribers.map((sub, i) => sub.chat.room.subscribe({ room: 'fan' }, heard[i]!.listener).ready))
      const before = server.topicStats.encodes
      expect(await server.publish(api.chat.room, { room: 'fan' }, { from: 's', text: 'hi all' })).toBe(40)
      expect(server.topicStats.encodes - before).toBe(2)
      await Promise.all(heard.map((entry) => entry.until(1)))
      void encoding
    })

    it('authorize decides, with ctx and params; a refusal is FORBIDDEN and nothing is registered', async () => {
      const url = await start()
      const guest = client(url, encoding)
      expect((await failure(guest.chat.secret.subscribe({ room: 'vault' }, () => {}).ready)).code).toBe('FORBIDDEN')
      const admin = createClient(api, { url: `${url}/?user=admin`, WebSocket, encodings: [codec(encoding)] })
      clients.push(admin)
      await admin.chat.secret.subscribe({ room: 'vault' }, () => {}).ready
      expect((await failure(admin.chat.secret.subscribe({ room: 'nope' }, () => {}).ready)).code).toBe('FORBIDDEN')
      expect(server.topicStats.subscriptions).toBe(1)
    })

    it('invalid params are BAD_REQUEST with issues', async () => {
      const url = await start()
      const alice = client(url, encoding)
      const error = await failure(alice.chat.room.subscribe({ room: 7 } as unknown as { room: string }, () => {}).ready)
      expect(error.code).toBe('BAD_REQUEST')
      expect(error.issues?.[0]?.path).toEqual(['room'])
    })

    it('clients publish only where the topic allows, validated and authorized like a call', async () => {
      const url = await start()
      const alice = client(url, encoding)
      const bob = client(url, encoding)
      const heard = collector<{ from: string; text: string }>()
      await bob.chat.open.subscribe({ room: 'o' }, heard.listener).ready
      await expect(alice.chat.open.publish({ room: 'o' }, { from: 'alice', text: 'hello bob' })).resolves.toEqual({ delivered: 1 })
      await heard.until(1)
      expect(heard.seen[0]?.message).toEqual({ from: 'alice', text: 'hello bob' })
      expect((await failure(alice.chat.room.publish({ room: 'o' }, { from: 'alice', text: 'x' }))).code).toBe('FORBIDDEN')
      expect((await failure(alice.chat.open.publish({ room: 'o' }, { from: 'alice', text: '' }))).code).toBe('BAD_REQUEST')
      expect((await failure(alice.chat.open.publish({ room: 'o' }, { from: 'alice', text: 'forbidden words' }))).code).toBe('FORBIDDEN')
      await alice.noop()
      expect(heard.seen).toHaveLength(1)
    })

    it('a bad server publish throws at the publisher and reaches nobody', async () => {
      const url = await start()
      const alice = client(url, encoding)
      const heard = collector<{ text: string }>()
      await alice.chat.room.subscribe({ room: 'r' }, heard.listener).ready
      expect(() => server.publish(api.chat.room, { room: 'r' }, { from: 's', text: '' })).toThrow(PatchbayError)
      expect(() => server.publish(api.chat.room, { room: 5 } as unknown as { room: string }, { from: 's', text: 'x' })).toThrow(/validation/)
      await server.publish(api.chat.room, { room: 'r' }, { from: 's', text: 'good' })
      await heard.until(1)
      expect(heard.seen.map((entry) => entry.message.text)).toEqual(['good'])
      expect(heard.seen[0]?.seq).toBe(1)
    })

    it('iterate yields messages; breaking out of the loop unsubscribes', async () => {
      const url = await start()
      const alice = client(url, encoding)
      const iterator = alice.chat.room.iterate({ room: 'it' })
      const received: string[] = []
      const loop = (async () => {
        for await (const message of iterator) {
          received.push(message.text)
          if (received.length === 3) break
        }
      })()
      // The subscription is confirmed once the server counts it.
      while (server.topicStats.subscriptions === 0) await alice.noop()
      for (let i = 0; i < 5; i++) await server.publish(api.chat.room, { room: 'it' }, { from: 's', text: `t${i}` })
      await loop
      expect(received).toEqual(['t0', 't1', 't2'])
      await alice.noop()
      expect(server.topicStats.subscriptions).toBe(0)
    })

    it('an aborted signal ends iterate cleanly', async () => {
      const url = await start()
      const alice = client(url, encoding)
      const controller = new AbortController()
      const iterator = alice.ticker.iterate({ signal: controller.signal })
      const next = iterator.next()
      controller.abort()
      await expect(next).resolves.toEqual({ value: undefined, done: true })
    })

    it('limits: subscriptions per connection and params size', async () => {
      const url = await start({ maxSubscriptions: 3, maxParamsLength: 64 })
      const alice = client(url, encoding)
      for (const room of ['a', 'b', 'c']) await alice.chat.room.subscribe({ room }, () => {}).ready
      expect((await failure(alice.chat.room.subscribe({ room: 'd' }, () => {}).ready)).code).toBe('TOO_MANY_REQUESTS')
      const bob = client(url, encoding)
      expect((await failure(bob.chat.room.subscribe({ room: 'x'.repeat(100) }, () => {}).ready)).code).toBe('BAD_REQUEST')
      await bob.chat.room.subscribe({ room: 'short' }, () => {}).ready
    })
  })

  describe('topic registries after churn', () => {
    it('are empty after thousands of subscribe, unsubscribe and abrupt disconnect cycles, and memory returns', async () => {
      const url = await start()
      const { setFlagsFromString } = await import('node:v8')
      const { runInNewContext } = await import('node:vm')
      setFlagsFromString('--expose-gc')
      const gc = runInNewContext('gc') as () => void
      const settle = async (): Promise<number> => {
        for (let i = 0; i < 3; i++) {
          gc()
          await new Promise((resolve) => setImmediate(resolve))
        }
        return process.memoryUsage().heapUsed
      }
      const round = async (): Promise<void> => {
        const alice = createClient(api, { url, WebSocket, encodings: [codec('msgpack')] })
        const offs = Array.from({ length: 100 }, (_, i) => alice.chat.room.subscribe({ room: `churn-${i}` }, () => {}))
        await Promise.all(offs.map((off) => off.ready))
        offs.slice(0, 50).forEach((off) => off())
        await alice.noop()
        // Half unsubscribed politely; the rest die with the socket.
        await alice.close()
        // And a peer that vanishes without a closing handshake.
        const raw = new WebSocket(url, ['patchbay.v1.json'])
        await new Promise((resolve) => raw.once('open', resolve))
        const confirmed = new Promise<void>((resolve) => {
          let count = 0
          raw.on('message', () => {
            if (++count === 50) resolve()
          })
        })
        for (let id = 1; id <= 50; id++) raw.send(JSON.stringify(toWire({ t: 'sub', id, path: 'chat.room', params: { room: `raw-${id}` } })))
        await confirmed
        raw.terminate()
      }
      await round()
      const baseline = await settle()
      for (let i = 0; i < 30; i++) await round()
      while (server.connectionCount > 0) await new Promise((resolve) => setImmediate(resolve))
      expect(server.topicStats).toMatchObject({ channels: 0, subscriptions: 0 })
      const after = await settle()
      // 3,000 subscriptions came and went; what remains is noise, not their registries.
      expect(after - baseline).toBeLessThan(4 * 1024 * 1024)
    })
  })
})
