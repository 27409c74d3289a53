/**
 * The in-memory pair (`@patchbay/server/testing`): a real `@patchbay/client` on the server's
 * real sessions through adapters/memory.ts, no port, once per encoding. Calls, middleware,
 * errors, cancellation, topics, streams with credit and close codes (§8) are one suite run
 * over both adapters, the pair and a real socket on 127.0.0.1 (adapters/ws.ts), so the pair is
 * held to what a socket does; backpressure (docs/protocol.md §14) and reconnects after a
 * drop use the pair's faults (tests/e2e/backpressure.test.ts has the socket versions).
 */
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { CloseCode, ErrorCode, PatchbayError, type Encoding } from '@patchbay/core'
import type { PatchbayServer } from '@patchbay/server'
import { createClient, type Client } from '@patchbay/client'
import { connectInMemory, createTestPair, type TestPairOptions } from '@patchbay/server/testing'
import { KiB, api, deferred, makeServer, type Ctx } from './fixture.js'
import { codec } from '../support/codecs.js'

const servers: PatchbayServer[] = []
const clients: Client<typeof api>[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()))
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

function setup(options: Parameters<typeof makeServer>[0] = {}) {
  const made = makeServer(options)
  servers.push(made.server)
  return made
}

async function pair(server: ReturnType<typeof makeServer>['server'], options: TestPairOptions<Ctx>) {
  const made = await createTestPair(server, options)
  clients.push(made.client)
  return made
}

/** A client's connection, as the shared suite sees it on either adapter. */
interface Opened {
  client: Client<typeof api>
  connection: { id: string; subprotocol: string; closed: Promise<{ code: number; reason: string }> }
}

type Server = ReturnType<typeof makeServer>['server']

const ports = new WeakMap<Server, Promise<number>>()

/** The shared suite's two adapters: each opens a client of `ctx.user` on `server`, no reconnects. */
const adapters: Record<'memory' | 'ws', (server: Server, encoding: Encoding, ctx: Ctx) => Promise<Opened>> = {
  memory: (server, encoding, ctx) => pair(server, { encoding, ctx, client: { reconnect: false } }),
  ws: async (server, encoding, ctx) => {
    if (!ports.has(server)) ports.set(server, server.listen().then(({ port }) => port))
    const port = await (ports.get(server) as Promise<number>)
    // The fixture's context hook reads the user from the URL (fixture.ts).
    const query = ctx.user === null ? '' : `?user=${ctx.user}`
    const before = new Set(server.connections().map((open) => open.id))
    const client = createClient(api, { url: `ws://127.0.0.1:${port}/${query}`, WebSocket, encodings: [codec(encoding)], reconnect: false })
    clients.push(client)
    const closed = new Promise<{ code: number; reason: string }>((resolve) => {
      client.on('state', (event) => {
        if (event.state === 'closed') resolve({ code: event.code ?? 0, reason: event.reason ?? '' })
      })
    })
    await client.connect()
    const id = server.connections().find((open) => !before.has(open.id))?.id ?? ''
    return { client, connection: { id, subprotocol: `patchbay.v1.${client.encoding ?? ''}`, closed } }
  },
}

async function rejection(promise: Promise<unknown>): Promise<PatchbayError> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(PatchbayError)
  return error as PatchbayError
}

const shared = (['memory', 'ws'] as const).flatMap((adapter) => (['json', 'msgpack'] as const).map((encoding) => [adapter, encoding] as const))

describe.each(shared)('the session over the %s adapter (%s)', (adapter, encoding) => {
  const open = (server: Server, ctx: Ctx) => adapters[adapter](server, encoding, ctx)

  it('negotiates the encoding (§2) and makes typed calls through the real session', async () => {
    const { server } = setup()
    const { client, connection } = await open(server, { user: null })
    expect(client.encoding).toBe(encoding)
    expect(connection.subprotocol).toBe(`patchbay.v1.${encoding}`)
    expect(await client.math.add({ a: 2, b: 3 })).toBe(5)
    expect(server.connections().map((open) => [open.id, open.encoding])).toEqual([[connection.id, encoding]])
    expect((await rejection(client.math.add({ a: 'x' as unknown as number, b: 1 }))).code).toBe(ErrorCode.BAD_REQUEST)
  })

  it('validates output, runs middleware in order with the extended context, and answers error codes', async () => {
    const { server, probe } = setup({ validateOutput: true, logger: false })
    const { client } = await open(server, { user: 'ann' })
    expect((await rejection(client.math.broken())).code).toBe(ErrorCode.INTERNAL)
    probe.trace.length = 0
    expect(await client.me()).toEqual({ name: 'ann', trace: ['outer>me', 'authed', 'handler:ANN'] })
    expect(probe.trace).toEqual(['outer>me', 'authed', 'handler:ANN', 'outer<me'])
    const error = await rejection(client.forbidden())
    expect([error.code, error.message]).toEqual([ErrorCode.FORBIDDEN, 'Not yours'])
    const anonymous = await open(server, { user: null })
    expect((await rejection(anonymous.client.me())).code).toBe(ErrorCode.UNAUTHORIZED)
  })

  it("a cancelled call aborts the handler's signal on the server (§5)", async () => {
    const { server, probe } = setup()
    const { client } = await open(server, { user: null })
    const controller = new AbortController()
    const call = client.hang({ tag: 'c' }, { signal: controller.signal })
    await expect.poll(() => probe.aborted.has('c')).toBe(true)
    controller.abort()
    expect((await rejection(call)).code).toBe(ErrorCode.CANCELLED)
    expect(((await probe.aborted.get('c')) as PatchbayError).code).toBe(ErrorCode.CANCELLED)
  })

  it('delivers a topic published on the server to the subscribed client', async () => {
    const { server } = setup()
    const { client } = await open(server, { user: null })
    const got = deferred<{ text: string }>()
    const unsubscribe = client.news.subscribe({ room: 'a' }, (message) => got.resolve(message))
    await unsubscribe.ready
    expect(server.publish(api.news, { room: 'b' }, { text: 'elsewhere' })).toBe(0)
    expect(server.publish(api.news, { room: 'a' }, { text: 'hello' })).toBe(1)
    expect(await got.promise).toEqual({ text: 'hello' })
    unsubscribe()
  })

  it('streams with credit: the handler is pulled only as far as the client granted (§15)', async () => {
    const { server, probe } = setup()
    const { client } = await open(server, { user: null })
    const items = client.count({ to: 1000 }, { credit: 4 })
    expect((await items.next()).value).toEqual({ n: 1 })
    // The client grants credit back in halves of its window: never more than 4 + 2 ahead.
    await client.math.add({ a: 0, b: 0 }) // a round trip: any item the server would send is sent
    expect(probe.produced).toBeLessThanOrEqual(6)
    const seen: number[] = []
    for await (const item of items) {
      seen.push(item.n)
      if (item.n === 50) break
    }
    expect(seen).toEqual(Array.from({ length: 49 }, (_, i) => i + 2))
    await probe.countEnded
    expect(probe.produced).toBeLessThan(60)
  })

  it('carries close codes and reasons both ways (§8)', async () => {
    const closes: { code: number; reason: string }[] = []
    const { server } = setup({ onClose: ({ code, reason }) => closes.push({ code, reason }) })
    const { client, connection } = await open(server, { user: null })
    const states: { state: string; code?: number; reason?: string }[] = []
    client.on('state', (event) => states.push(event))
    expect(server.disconnect(connection.id, 4001, 'kicked by admin')).toBe(true)
    expect(await connection.closed).toMatchObject({ code: 4001, reason: 'kicked by admin' })
    // A socket's server side hears of the close once TCP closes: after its client, maybe.
    await expect.poll(() => closes).toEqual([{ code: 4001, reason: 'kicked by admin' }])
    expect(states[0]).toMatchObject({ code: 4001 })

    // And from the client: its close reaches the server with its code.
    const second = await open(server, { user: null })
    await second.client.close()
    expect(await second.connection.closed).toMatchObject({ code: CloseCode.NORMAL })
    await expect.poll(() => closes.length).toBe(2)
    expect(closes[1]?.code).toBe(CloseCode.NORMAL)
    expect(server.connectionCount).toBe(0)
  })
})

describe.each<Encoding>(['json', 'msgpack'])("the pair's faults (%s)", (encoding) => {
  it("a stalled reader's server-side buffer stays within maxBuffered, then it is closed with 4507 (§14)", async () => {
    const { server } = setup() // highWaterMark 64 KiB, maxBuffered 512 KiB (fixture.ts)
    const { client, connection } = await pair(server, { encoding, ctx: { user: null }, client: { reconnect: false } })
    await client.firehose.subscribe(() => {}).ready
    // A reader that keeps reading gets every message and stays connected.
    const fast = await pair(server, { encoding, ctx: { user: null }, client: { reconnect: false } })
    const all = deferred()
    let count = 0
    await fast.client.firehose.subscribe(() => ++count === 400 && all.resolve()).ready
    connection.stall()
    let peak = 0
    const pad = 'p'.repeat(16 * KiB)
    // 400 × 16 KiB = 6.4 MB, far past what the stalled reader's buffers hold; the event loop
    // turns every 8, as in tests/e2e/backpressure.test.ts, so a reader that reads keeps up.
    for (let n = 1; n <= 400; n++) {
      server.publish(api.firehose, undefined, { n, pad })
      peak = Math.max(peak, connection.serverBufferedAmount)
      if (n % 8 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    await all.promise
    expect(fast.connection.state).toBe('open')
    expect(peak).toBeLessThanOrEqual(512 * KiB)
    expect(peak).toBeGreaterThan(64 * KiB)
    expect(server.stats.slowConsumers).toBe(1)
    connection.resume()
    const closed = await connection.closed
    expect([closed.code, closed.wasClean]).toEqual([CloseCode.SLOW_CONSUMER, true])
    // The slow consumer's subscription is gone; the fast one remains.
    expect(server.topicStats.subscriptions).toBe(1)
  })

  it('reconnects after a dropped connection and resubscribes its topics', async () => {
    const { server } = setup()
    const { client, connection, network } = await pair(server, {
      encoding,
      ctx: { user: null },
      client: { reconnect: { retryDelay: 5, maxRetryDelay: 20 } },
    })
    const received: string[] = []
    let next = deferred()
    const unsubscribe = client.news.subscribe({ room: 'r' }, (message) => {
      received.push(message.text)
      next.resolve()
    })
    await unsubscribe.ready
    server.publish(api.news, { room: 'r' }, { text: 'before' })
    await next.promise

    const reconnected = network.nextConnection()
    connection.drop()
    expect((await connection.closed).code).toBe(CloseCode.ABNORMAL)
    const second = await reconnected
    expect(second.id).not.toBe(connection.id)
    // Resubscribed on the new connection: the server counts one subscription again.
    await expect.poll(() => server.topicStats.subscriptions).toBe(1)
    await client.connect()
    next = deferred()
    server.publish(api.news, { room: 'r' }, { text: 'after' })
    await next.promise
    expect(received).toEqual(['before', 'after'])
    expect(network.connections).toHaveLength(2)
  })
})

describe('the in-memory handshake (docs/protocol.md §2)', () => {
  it("negotiates among the server's encodings, refuses a client offering none of them, and hands the token to context", async () => {
    const { server } = setup({ encodings: ['json'] })
    const network = connectInMemory(server, { context: ({ token }) => ({ user: token ?? null }) })
    const refused = createClient(api, { url: network.url, WebSocket: network.WebSocket, encodings: [codec('msgpack')], reconnect: false })
    clients.push(refused)
    const failure = await rejection(refused.connect())
    expect(failure.message).toContain('1006')
    expect(network.connections).toHaveLength(0)

    const offered = createClient(api, { url: network.url, WebSocket: network.WebSocket, encodings: [codec('msgpack'), 'json'], token: 'bea', reconnect: false })
    clients.push(offered)
    expect((await offered.me()).name).toBe('bea')
    expect(offered.encoding).toBe('json')
    expect(network.current?.subprotocol).toBe('patchbay.v1.json')
  })

  it('a context that throws refuses the connection; a closing server refuses, and closes open ones with 1001', async () => {
    const { server } = setup()
    const network = connectInMemory(server, {
      context: ({ token }) => {
        if (token !== 'ok') throw new PatchbayError(ErrorCode.UNAUTHORIZED, 'no')
        return { user: 'ok' }
      },
    })
    const denied = createClient(api, { url: network.url, WebSocket: network.WebSocket, token: 'bad', reconnect: false })
    clients.push(denied)
    expect((await rejection(denied.connect())).message).toContain('1006')

    const { connection } = await pair(server, { encoding: 'json', ctx: { user: null } })
    servers.splice(servers.indexOf(server), 1)
    await server.close()
    expect(await connection.closed).toMatchObject({ code: CloseCode.GOING_AWAY, wasClean: true })
    const late = createClient(api, { url: network.url, WebSocket: network.WebSocket, token: 'ok', reconnect: false })
    clients.push(late)
    expect((await rejection(late.connect())).message).toContain('1006')
  })
})
