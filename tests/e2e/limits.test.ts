/**
 * Connection limits (docs/protocol.md §9.1, §2): the inbound rate limit (RATE_LIMITED, then
 * 4429 for a persistent flood), the total connection limit (HTTP 503) and the handshake
 * timeout (HTTP 408). Each time: the process stays up and the other connections are served.
 */
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { CloseCode, ErrorCode, procedure, router, stream } from '@patchbay/core'
import { createServer, type PatchbayServer, type ServerOptions } from '@patchbay/server'
import { createClient, type Client } from '@patchbay/client'
import { connectRaw, expectServed, refusedUpgrade, type RawClient } from '../conformance/support.js'
import { codec } from '../support/codecs.js'

const api = router({
  math: { add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }) },
})

let server: PatchbayServer
const raws: RawClient[] = []
const clients: Client<typeof api>[] = []
afterEach(async () => {
  for (const raw of raws.splice(0)) raw.ws.terminate()
  await Promise.all(clients.splice(0).map((client) => client.close()))
  await server?.close()
})

async function start(options: Partial<ServerOptions<typeof api, unknown>> = {}): Promise<string> {
  server = createServer(api, { ...options, handlers: { math: { add: ({ input }) => input.a + input.b } } } as ServerOptions<typeof api, unknown>)
  const { port } = await server.listen()
  return `ws://127.0.0.1:${port}`
}

async function raw(url: string): Promise<RawClient> {
  const client = await connectRaw(url, 'json')
  raws.push(client)
  return client
}

describe('rate limit', () => {
  it('answers requests over the rate with RATE_LIMITED and keeps the connection while the peer slows down', async () => {
    const url = await start({ rateLimit: { perSecond: 100, burst: 20 } })
    const bystander = await raw(url)
    const client = await raw(url)
    for (let id = 1; id <= 30; id++) client.send({ t: 'call', id, path: 'math.add', input: { a: id, b: 0 } })
    const answers = await client.take(30)
    const limited = answers.filter((answer) => answer.t === 'error')
    // The burst of 20 (plus what refilled meanwhile) is served; the rest is refused, by id.
    expect(limited.length).toBeGreaterThanOrEqual(5)
    for (const answer of limited) expect(answer).toMatchObject({ error: { code: ErrorCode.RATE_LIMITED } })
    expect(answers.filter((answer) => answer.t === 'result').length).toBeGreaterThanOrEqual(20)
    expect(server.stats.rateLimited).toBe(limited.length)
    // After a pause the bucket has refilled: served again, on the same connection.
    await new Promise((resolve) => setTimeout(resolve, 300))
    await expectServed(client, 100)
    await expectServed(bystander, 101)
  })

  it('closes a connection that keeps flooding with 4429; the others are unaffected', async () => {
    const url = await start({ rateLimit: { perSecond: 100, burst: 20 } })
    const bystander = await raw(url)
    const flooder = await raw(url)
    for (let id = 1; id <= 200; id++) flooder.send({ t: 'call', id, path: 'math.add', input: { a: 1, b: 1 } })
    const closed = await flooder.closed
    expect(closed.code).toBe(CloseCode.TOO_MANY_REQUESTS)
    expect(closed.reason).toMatch(/rate/)
    await expectServed(bystander, 1)
  })

  it('counts control messages too: a ping flood is closed with 4429', async () => {
    const url = await start({ rateLimit: { perSecond: 100, burst: 20 } })
    const flooder = await raw(url)
    for (let i = 0; i < 200; i++) flooder.send({ t: 'ping' })
    expect((await flooder.closed).code).toBe(CloseCode.TOO_MANY_REQUESTS)
  })

  it('a Patchbay client treats 4429 as retryable: it reconnects and is served', async () => {
    const url = await start({ rateLimit: { perSecond: 100, burst: 20 } })
    const client = createClient(api, { url, WebSocket, encodings: ['json'], reconnect: { retryDelay: 20, maxRetryDelay: 50 } })
    clients.push(client)
    const codes: number[] = []
    client.on('state', (event) => event.state === 'reconnecting' && codes.push(event.code ?? 0))
    const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => client.math.add({ a: i, b: 0 })))
    const failures = results.filter((result) => result.status === 'rejected').map((result) => (result.reason as { code: string }).code)
    expect(new Set(failures)).toEqual(new Set([ErrorCode.RATE_LIMITED, ErrorCode.CONNECTION_LOST]))
    expect(codes).toContain(CloseCode.TOO_MANY_REQUESTS)
    await expect.poll(() => client.state).toBe('open')
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(await client.math.add({ a: 2, b: 2 })).toBe(4)
  })

  it('can be turned off', async () => {
    const url = await start({ rateLimit: false })
    const client = await raw(url)
    for (let id = 1; id <= 30_000; id++) client.send({ t: 'ping' })
    for (let id = 1; id <= 3_000; id++) client.send({ t: 'call', id, path: 'math.add', input: { a: 1, b: 1 } })
    const answers = (await client.take(33_000)).filter((answer) => answer.t !== 'pong')
    expect(answers.every((answer) => answer.t === 'result')).toBe(true)
    expect(server.stats.rateLimited).toBe(0)
  })
})

describe('maxConnections', () => {
  it('refuses the upgrade past the limit with 503 and accepts again when one leaves', async () => {
    const url = await start({ maxConnections: 2 })
    const first = await raw(url)
    await raw(url)
    const refusal = await refusedUpgrade(url, ['patchbay.v1.json'])
    expect(refusal).toEqual({ status: 503, body: 'Too many connections' })
    first.ws.terminate()
    await expect.poll(() => server.connectionCount).toBe(1)
    await expectServed(await raw(url), 1)
  })
})

describe('handshakeTimeout', () => {
  it('refuses an upgrade whose context hook is too slow with 408, and serves others meanwhile', async () => {
    // The budget counts from the TCP connection (§9.1), so a healthy handshake on a loaded
    // machine needs room too: 1 s, with a hook that would take 5 s.
    const url = await start({
      handshakeTimeout: 1_000,
      context: ({ url: requestUrl }) =>
        requestUrl.searchParams.has('slow') ? new Promise((resolve) => setTimeout(() => resolve({}), 5_000).unref()) : {},
    })
    const slow = refusedUpgrade(`${url}/?slow`, ['patchbay.v1.json'])
    await expectServed(await raw(url), 1)
    expect(await slow).toEqual({ status: 408, body: 'Handshake timed out' })
    expect(server.connectionCount).toBe(1)
  })

  it('must be a positive integer', () => {
    expect(() => createServer(api, { handshakeTimeout: 0, handlers: { math: { add: () => 0 } } })).toThrow(/handshakeTimeout/)
    expect(() => createServer(api, { rateLimit: { perSecond: -1 }, handlers: { math: { add: () => 0 } } })).toThrow(/rateLimit/)
    expect(() => createServer(api, { maxConnections: 1.5, handlers: { math: { add: () => 0 } } })).toThrow(/maxConnections/)
  })
})

describe('rate limit and streams', () => {
  const streaming = router({ numbers: stream({ output: z.number() }) })

  it('does not count a stream consumer’s credit: a stream far faster than the limit runs to its end', async () => {
    const made = createServer(streaming, {
      rateLimit: { perSecond: 50, burst: 50 },
      handlers: {
        async *numbers() {
          for (let n = 1; n <= 5_000; n++) yield n
        },
      },
    })
    const { port } = await made.listen()
    const consumer = createClient(streaming, { url: `ws://127.0.0.1:${port}`, WebSocket, encodings: [codec('msgpack')], reconnect: false })
    try {
      let count = 0
      // A window of 4: about 2,500 credit messages, 50 times the burst.
      for await (const n of consumer.numbers(undefined, { credit: 4 })) expect(n).toBe(++count)
      expect(count).toBe(5_000)
      expect(made.stats.rateLimited).toBe(0)
    } finally {
      await consumer.close()
      await made.close()
    }
  })
})
