/**
 * The client's hook points for integrations (packages/client/src/endpoint.ts and the
 * `onEnd` subscribe option), on a real server on 127.0.0.1: what each function of the tree
 * says it is, whether made from the router or its shape, and when a subscription ends without
 * its listener leaving, or a reconnect suspends it (`onLive`, `live`). Also the runtime side of a topic whose params schema is optional.
 */
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { ErrorCode, PatchbayError, procedure, router, stream, topic, type Encoding } from '@patchbay/core'
import { createServer, type PatchbayServer } from '@patchbay/server'
import { createClient, endpointOf, routerShape, ENDPOINT, type Client, type RouterShape } from '@patchbay/client'
import { topics, streams } from '@patchbay/client/features'
import { createClient as createSlimClient } from '@patchbay/client/slim'
import { closeAfterEach } from '../support/teardown.js'
import { codec } from '../support/codecs.js'

const api = router({
  math: {
    add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }),
    save: procedure({ input: z.number(), output: z.null(), idempotent: true }),
  },
  ticks: stream({ input: z.object({ n: z.number() }), output: z.number() }),
  clock: topic({ message: z.number() }),
  room: topic({ params: z.object({ room: z.string() }), message: z.string() }),
  /** Params optional: subscribers pass undefined (one channel) or a filter. */
  feed: topic({ params: z.object({ tag: z.string() }).optional(), message: z.string() }),
})

const shape = { '~features': [topics, streams], ...routerShape(api) } as unknown as RouterShape<typeof api>

let server: PatchbayServer | undefined
const clients = closeAfterEach<Client<typeof api>>(async () => {
  await server?.close()
  server = undefined
})

/** Params the server's authorize saw for `feed`, in order. */
const feedParams: unknown[] = []

async function start(encoding: Encoding, port = 0): Promise<string> {
  const started: PatchbayServer = createServer(api, {
    encodings: [encoding],
    handlers: {
      math: { add: ({ input }) => input.a + input.b, save: () => null },
      async *ticks({ input }) {
        for (let n = 1; n <= input.n; n++) yield n
      },
    },
    topics: {
      room: { authorize: ({ params }) => params.room !== 'forbidden' },
      feed: {
        authorize: ({ params }) => {
          feedParams.push(params)
          return true
        },
      },
    },
  })
  server = started
  const address = await started.listen({ port, host: '127.0.0.1' })
  return `ws://127.0.0.1:${address.port}`
}

function connect(url: string, encoding: Encoding): Client<typeof api> {
  const client = createClient(api, { url, WebSocket, encodings: [codec(encoding)], reconnect: false })
  clients.push(client)
  return client
}

/** A promise of the first call of the returned function. */
function once<T>(): { heard: Promise<T>; hear: (value: T) => void; count: () => number } {
  let calls = 0
  let resolve: (value: T) => void = () => {}
  const heard = new Promise<T>((done) => (resolve = done))
  return {
    heard,
    hear: (value) => {
      calls++
      resolve(value)
    },
    count: () => calls,
  }
}

describe('endpointOf', () => {
  it.each([
    ['the router', (url: string) => createClient(api, { url, WebSocket, lazy: true })],
    ['the shape (slim)', (url: string) => createSlimClient(shape, { url, WebSocket, lazy: true })],
  ])('names the path and kind of every function of a client made from %s', async (_, make) => {
    const client = make('ws://127.0.0.1:1')
    clients.push(client)
    expect(endpointOf(client.math.add)).toEqual({ kind: 'procedure', path: 'math.add', idempotent: false })
    expect(endpointOf(client.math.save)).toEqual({ kind: 'procedure', path: 'math.save', idempotent: true })
    expect(endpointOf(client.ticks)).toEqual({ kind: 'stream', path: 'ticks' })
    expect(endpointOf(client.clock)).toEqual({ kind: 'topic', path: 'clock', hasParams: false })
    expect(endpointOf(client.room)).toEqual({ kind: 'topic', path: 'room', hasParams: true })
    expect(endpointOf(client.feed)).toEqual({ kind: 'topic', path: 'feed', hasParams: true })
    // Nothing else carries it: nested routers, the client's own members, other values.
    for (const other of [client.math, client.close, client.on, client, undefined, null, 1, 'math.add', {}]) expect(endpointOf(other)).toBeUndefined()
    // Under the registered symbol, out of sight of the tree's names.
    expect(ENDPOINT).toBe(Symbol.for('patchbay.endpoint'))
    expect(Object.keys(client.math)).toEqual(['add', 'save'])
    expect(Object.keys(client.room)).toEqual(['subscribe', 'iterate', 'publish'])
  })
})

describe.each<Encoding>(['json', 'msgpack'])('subscribe onEnd (%s)', (encoding) => {
  it('hears the client close under a live subscription, once, with CONNECTION_LOST', async () => {
    const client = connect(await start(encoding), encoding)
    const ended = once<PatchbayError>()
    const off = client.room.subscribe({ room: 'a' }, () => {}, { onEnd: ended.hear })
    await off.ready
    await client.close()
    const error = await ended.heard
    expect(error).toBeInstanceOf(PatchbayError)
    expect(error.code).toBe(ErrorCode.CONNECTION_LOST)
    off()
    expect(ended.count()).toBe(1)
  })

  it('hears a server that closes the connection when the client does not reconnect', async () => {
    const client = connect(await start(encoding), encoding)
    const ended = once<PatchbayError>()
    await client.clock.subscribe(() => {}, { onEnd: ended.hear }).ready
    await server?.close()
    expect((await ended.heard).code).toBe(ErrorCode.CONNECTION_LOST)
  })

  it('hears a refusal with the error `ready` rejects with', async () => {
    const client = connect(await start(encoding), encoding)
    const ended = once<PatchbayError>()
    const off = client.room.subscribe({ room: 'forbidden' }, () => {}, { onEnd: ended.hear })
    const refused = await off.ready.then(
      () => undefined,
      (error: unknown) => error,
    )
    expect((await ended.heard).code).toBe(ErrorCode.FORBIDDEN)
    expect(await ended.heard).toBe(refused)
  })

  it('is silent after unsubscribe: leaving is not an end', async () => {
    const client = connect(await start(encoding), encoding)
    const ended = once<PatchbayError>()
    const stays = once<PatchbayError>()
    const off = client.room.subscribe({ room: 'b' }, () => {}, { onEnd: ended.hear })
    // A second listener of the same wire subscription, still there when the client closes.
    await client.room.subscribe({ room: 'b' }, () => {}, { onEnd: stays.hear }).ready
    off()
    await client.close()
    await stays.heard
    expect(ended.count()).toBe(0)
  })

  it('hears at once a subscribe on a client already closed', async () => {
    const client = connect(await start(encoding), encoding)
    await client.close()
    const ended = once<PatchbayError>()
    client.clock.subscribe(() => {}, { onEnd: ended.hear })
    expect((await ended.heard).code).toBe(ErrorCode.CONNECTION_FAILED)
  })
})

// docs/protocol.md §10, §12.1: the client subscribes again on the next connection.
describe.each<Encoding>(['json', 'msgpack'])('subscribe onLive and live (%s)', (encoding) => {
  it('hears a reconnect suspend a confirmed subscription and the server confirm it again', async () => {
    const url = await start(encoding)
    const client = createClient(api, { url, WebSocket, encodings: [codec(encoding)], reconnect: { retryDelay: 10, maxRetryDelay: 50 } })
    clients.push(client)
    const heard: boolean[] = []
    const suspended = once<boolean>()
    const restored = once<boolean>()
    const messages: string[] = []
    const off = client.room.subscribe({ room: 'a' }, (message) => messages.push(message), {
      onLive: (live) => {
        heard.push(live)
        ;(live ? restored : suspended).hear(live)
      },
    })
    expect(off.live).toBe(false)
    await off.ready
    expect(off.live).toBe(true)
    await server?.close()
    await suspended.heard
    expect(off.live).toBe(false)
    // A listener joining it now: confirmed once (`ready` resolved), not live.
    const joined = client.room.subscribe({ room: 'a' }, () => {})
    await joined.ready
    expect(joined.live).toBe(false)
    await start(encoding, Number(new URL(url).port))
    await restored.heard
    expect(heard).toEqual([false, true])
    expect([off.live, joined.live]).toEqual([true, true])
    expect(server?.publish(api.room, { room: 'a' }, 'after')).toBe(1)
    await expect.poll(() => messages).toEqual(['after'])
    off()
    expect([off.live, joined.live]).toEqual([false, true])
    // The first confirmation is `ready`'s, and an unsubscribed listener hears nothing more.
    await client.close()
    expect(heard).toEqual([false, true])
  })
})

describe('a topic with optional params', () => {
  it('takes params first: undefined is one channel, a value another', async () => {
    const client = connect(await start('json'), 'json')
    feedParams.length = 0
    const all: string[] = []
    const tagged: string[] = []
    await client.feed.subscribe(undefined, (message) => all.push(message)).ready
    await client.feed.subscribe({ tag: 'x' }, (message) => tagged.push(message)).ready
    expect(feedParams).toEqual([undefined, { tag: 'x' }])
    expect(server?.publish(api.feed, undefined, 'to all')).toBe(1)
    expect(server?.publish(api.feed, { tag: 'x' }, 'to x')).toBe(1)
    await expect.poll(() => [all, tagged]).toEqual([['to all'], ['to x']])
  })
})
