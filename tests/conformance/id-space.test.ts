/**
 * §4.1 One id space for calls, streams, subscriptions and publishes, and §3 server messages
 * sent by a client: raw frames against a real server, both encodings.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { procedure, router, stream, topic, type Encoding } from '@patchbay/core'
import { createServer, type PatchbayServer } from '@patchbay/server'
import { connectRaw, deferred, ENCODINGS, roundTrip, type Deferred, type RawClient } from './support.js'

const api = router({
  /** Resolves when the test releases it; records why its signal aborted. */
  held: procedure({ input: z.object({ n: z.number().int() }), output: z.object({ n: z.number() }) }),
  add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }),
  count: stream({ input: z.object({}), output: z.number() }),
  room: topic({ message: z.object({ text: z.string() }), publish: 'client' }),
  /** Its authorizePublish waits for the test: a publish that stays live. */
  gated: topic({ message: z.object({ text: z.string() }), publish: 'client' }),
})

let server: PatchbayServer
const sockets: RawClient[] = []
const held = new Map<number, Deferred<void>>()
const aborted = new Map<number, Deferred<unknown>>()
let arrived: Deferred<void>
let authorizing: Deferred<() => void>

afterEach(async () => {
  for (const client of sockets.splice(0)) client.ws.terminate()
  for (const release of held.values()) release.resolve()
  held.clear()
  aborted.clear()
  await server.close()
})

async function open(encoding: Encoding): Promise<RawClient> {
  arrived = deferred()
  authorizing = deferred()
  server = createServer(api, {
    closeTimeout: 2_000,
    topics: {
      gated: {
        authorizePublish: () => new Promise<boolean>((resolve) => authorizing.resolve(() => resolve(true))),
      },
    },
    handlers: {
      held: async ({ input, signal }) => {
        const release = deferred()
        const abort = deferred<unknown>()
        held.set(input.n, release)
        aborted.set(input.n, abort)
        signal.addEventListener('abort', () => abort.resolve(signal.reason))
        arrived.resolve()
        await release.promise
        return { n: input.n }
      },
      add: ({ input }) => input.a + input.b,
      async *count() {
        for (let n = 1; ; n++) yield n
      },
    },
  })
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
  const client = await connectRaw(`ws://127.0.0.1:${port}`, encoding)
  sockets.push(client)
  return client
}


/** Holds call `id` in flight (the handler waits for the test). */
async function holdCall(client: RawClient, id: number): Promise<void> {
  client.send({ t: 'call', id, path: 'held', input: { n: id } })
  await arrived.promise
}

async function subscribe(client: RawClient, id: number): Promise<number> {
  client.send({ t: 'sub', id, path: 'room' })
  const answer = await client.next()
  expect(answer).toMatchObject({ t: 'result', id })
  return (answer.output as { ch: number }).ch
}

describe.each<Encoding>(ENCODINGS)('§3 server messages from a client (%s)', (encoding) => {
  it.each([
    ['result', { t: 'result', id: 1, output: 3 }],
    ['error', { t: 'error', id: 1, error: { code: 'BAD_REQUEST', message: 'x' } }],
    ['event', { t: 'event', ch: 1, seq: 1, data: {} }],
    ['item', { t: 'item', id: 1, data: 1 }],
    ['lag', { t: 'lag', ch: 1, seq: 1, missed: 1 }],
  ])('closes 4400 on a client sending %s', async (type, message) => {
    // docs/protocol.md §3: a server-to-client type from a client is an unknown type.
    const client = await open(encoding)
    client.send(message)
    await client.expectClose(4400, new RegExp(`${type} is a server-to-client message`))
  })
})

describe.each<Encoding>(ENCODINGS)('§4.1 one id space (%s)', (encoding) => {
  it.each([
    ['sub', { t: 'sub', id: 1, path: 'room' }],
    ['pub', { t: 'pub', id: 1, path: 'room', data: { text: 'hi' } }],
    ['stream', { t: 'stream', id: 1, path: 'count', input: {}, credit: 1 }],
    ['call', { t: 'call', id: 1, path: 'add', input: { a: 1, b: 2 } }],
    ['malformed call', { t: 'call', id: 1, path: 'add', input: { a: 'x' } }],
  ])('a %s reusing an in-flight call id closes 4409, and the call is aborted', async (_name, message) => {
    // docs/protocol.md §4.1: any request naming a live id, whatever holds it.
    const client = await open(encoding)
    await holdCall(client, 1)
    client.send(message)
    await client.expectClose(4409, /id 1/)
    expect(await aborted.get(1)?.promise).toMatchObject({ code: 'CONNECTION_LOST' })
  })

  it.each([
    ['call', { t: 'call', id: 1, path: 'add', input: { a: 1, b: 2 } }],
    ['stream', { t: 'stream', id: 1, path: 'count', input: {}, credit: 1 }],
    ['pub', { t: 'pub', id: 1, path: 'room', data: { text: 'hi' } }],
    ['sub', { t: 'sub', id: 1, path: 'room' }],
  ])('a %s reusing a live subscription id closes 4409', async (_name, message) => {
    // docs/protocol.md §4.1: a subscription holds its id from `sub` to `unsub`.
    const client = await open(encoding)
    await subscribe(client, 1)
    client.send(message)
    await client.expectClose(4409)
  })

  it('a sub reusing a live stream id closes 4409', async () => {
    // docs/protocol.md §4.1
    const client = await open(encoding)
    client.send({ t: 'stream', id: 1, path: 'count', input: {}, credit: 1 })
    expect(await client.next()).toEqual({ t: 'item', id: 1, data: 1 })
    client.send({ t: 'sub', id: 1, path: 'room' })
    await client.expectClose(4409)
  })

  it('a request reusing the id of a publish still being authorized closes 4409', async () => {
    // docs/protocol.md §4.1: a pub holds its id until it is answered.
    const client = await open(encoding)
    client.send({ t: 'pub', id: 1, path: 'gated', data: { text: 'hi' } })
    await authorizing.promise
    client.send({ t: 'call', id: 1, path: 'add', input: { a: 1, b: 2 } })
    await client.expectClose(4409)
  })

  it('an id is free again once its call is answered, its subscription ended, or its sub refused', async () => {
    // docs/protocol.md §4.1
    const client = await open(encoding)
    expect(await client.call(1, 'add', { a: 1, b: 2 })).toEqual({ t: 'result', id: 1, output: 3 })
    await subscribe(client, 1)
    client.send({ t: 'unsub', id: 1 })
    client.send({ t: 'sub', id: 1, path: 'nowhere' })
    expect(await client.next()).toMatchObject({ t: 'error', id: 1, error: { code: 'NOT_FOUND' } })
    expect(await client.call(1, 'add', { a: 2, b: 2 })).toEqual({ t: 'result', id: 1, output: 4 })
  })

  it.each(['cancel', 'unsub'])('%s naming a call aborts it; nothing more is sent for it and the id is free', async (type) => {
    // docs/protocol.md §4.1: cancel and unsub both end whatever holds the id.
    const client = await open(encoding)
    await holdCall(client, 1)
    client.send({ t: type, id: 1 })
    expect(await aborted.get(1)?.promise).toMatchObject({ code: 'CANCELLED' })
    held.get(1)?.resolve()
    expect(await client.call(1, 'add', { a: 1, b: 2 })).toEqual({ t: 'result', id: 1, output: 3 })
    expect(await roundTrip(client)).toEqual([])
  })

  it.each(['cancel', 'unsub'])('%s naming a subscription ends it', async (type) => {
    // docs/protocol.md §4.1
    const client = await open(encoding)
    const ch = await subscribe(client, 1)
    server.publish(api.room, undefined, { text: 'before' })
    expect(await roundTrip(client)).toEqual([{ t: 'event', ch, seq: 1, data: { text: 'before' } }])
    client.send({ t: type, id: 1 })
    expect(await roundTrip(client)).toEqual([])
    expect(server.topicStats.subscriptions).toBe(0)
    server.publish(api.room, undefined, { text: 'after' })
    expect(await roundTrip(client)).toEqual([])
    expect(server.stats.lateCancels).toBe(0)
  })

  it.each(['cancel', 'unsub'])('%s naming a stream ends it without another message', async (type) => {
    // docs/protocol.md §4.1, §15
    const client = await open(encoding)
    client.send({ t: 'stream', id: 1, path: 'count', input: {}, credit: 1 })
    expect(await client.next()).toEqual({ t: 'item', id: 1, data: 1 })
    client.send({ t: type, id: 1 })
    client.send({ t: 'credit', id: 1, n: 5 })
    expect(await roundTrip(client)).toEqual([])
    expect(await client.call(1, 'add', { a: 1, b: 2 })).toEqual({ t: 'result', id: 1, output: 3 })
  })

  it.each(['cancel', 'unsub'])('%s naming a publish being authorized withdraws it: not published, not answered', async (type) => {
    // docs/protocol.md §4.1, §13
    const client = await open(encoding)
    client.send({ t: 'sub', id: 1, path: 'gated' })
    expect(await client.next()).toMatchObject({ t: 'result', id: 1 })
    client.send({ t: 'pub', id: 2, path: 'gated', data: { text: 'hi' } })
    const allow = await authorizing.promise
    client.send({ t: type, id: 2 })
    expect(await roundTrip(client)).toEqual([])
    allow()
    // Its authorization settles after the withdrawal: no event reaches the subscriber, no reply.
    expect(await client.call(3, 'add', { a: 1, b: 2 })).toEqual({ t: 'result', id: 3, output: 3 })
    expect(await roundTrip(client)).toEqual([])
  })

  it('credit naming a call or a subscription is ignored', async () => {
    // docs/protocol.md §4.1: credit means something to a stream only.
    const client = await open(encoding)
    await holdCall(client, 1)
    await subscribe(client, 2)
    client.send({ t: 'credit', id: 1, n: 3 })
    client.send({ t: 'credit', id: 2, n: 3 })
    client.send({ t: 'credit', id: 99, n: 3 })
    expect(await roundTrip(client)).toEqual([])
    held.get(1)?.resolve()
    expect(await client.next()).toEqual({ t: 'result', id: 1, output: { n: 1 } })
  })

  it('cancel naming nothing live is ignored and counted as late', async () => {
    // docs/protocol.md §4.1, §5
    const client = await open(encoding)
    client.send({ t: 'cancel', id: 7 })
    client.send({ t: 'unsub', id: 8 })
    expect(await roundTrip(client)).toEqual([])
    expect(server.stats.lateCancels).toBe(1)
  })

  it('a publish being authorized counts toward maxInFlight', async () => {
    // docs/protocol.md §4.1, §13
    const client = await openLimited(encoding, 1)
    client.send({ t: 'pub', id: 1, path: 'gated', data: { text: 'hi' } })
    await authorizing.promise
    client.send({ t: 'call', id: 2, path: 'held', input: { n: 2 } })
    expect(await client.next()).toMatchObject({ t: 'error', id: 2, error: { code: 'TOO_MANY_REQUESTS' } })
  })
})

/** A server like `open`'s with `maxInFlight` set. */
async function openLimited(encoding: Encoding, maxInFlight: number): Promise<RawClient> {
  authorizing = deferred()
  server = createServer(api, {
    limits: { maxInFlight },
    topics: { gated: { authorizePublish: () => new Promise<boolean>((resolve) => authorizing.resolve(() => resolve(true))) } },
    handlers: {
      held: () => new Promise(() => {}),
      add: ({ input }) => input.a + input.b,
      async *count() {
        yield 1
      },
    },
  })
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
  const client = await connectRaw(`ws://127.0.0.1:${port}`, encoding)
  sockets.push(client)
  return client
}
