/**
 * Bounds on what peers can make the server hold (docs/guide/security.md, docs/protocol.md
 * §9.1): handshakes in progress (`maxHandshakes`), and idempotent calls that run on after
 * their connection dropped (`idempotency.maxKeys`, §4.2). Each at its bound: the next one is
 * refused and the server serves the others.
 */
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http'
import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { ErrorCode, procedure, router } from '@patchbay/core'
import { createServer, type PatchbayServer, type ServerOptions } from '@patchbay/server'
import { connectRaw, deferred, expectServed, refusedUpgrade, type Deferred, type RawClient } from '../conformance/support.js'

const api = router({
  math: { add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }) },
  place: procedure({ input: z.object({ n: z.number() }), output: z.number(), idempotent: true }),
})

let server: PatchbayServer | undefined
let http: Server | undefined
const raws: RawClient[] = []
const sockets: Socket[] = []
const releases: Deferred[] = []
afterEach(async () => {
  for (const release of releases.splice(0)) release.resolve()
  for (const raw of raws.splice(0)) raw.ws.terminate()
  for (const socket of sockets.splice(0)) socket.destroy()
  await server?.close()
  server = undefined
  if (http !== undefined) {
    http.closeAllConnections()
    await new Promise((resolve) => http?.close(resolve))
    http = undefined
  }
})

let runs = 0
function make(options: Partial<ServerOptions<typeof api, unknown>> = {}): PatchbayServer {
  runs = 0
  server = createServer(api, {
    ...options,
    handlers: {
      math: { add: ({ input }) => input.a + input.b },
      place: ({ input }) => {
        runs++
        const release = deferred()
        releases.push(release)
        return release.promise.then(() => input.n)
      },
    },
  } as ServerOptions<typeof api, unknown>)
  return server
}

async function raw(url: string): Promise<RawClient> {
  const client = await connectRaw(url, 'json')
  raws.push(client)
  return client
}

/** A TCP socket that connects and sends nothing; resolves once connected. */
function silent(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1')
  sockets.push(socket)
  socket.on('error', () => {})
  return new Promise((resolve) => socket.once('connect', () => resolve(socket)))
}

/** Everything a socket receives until the server closes it. */
function answer(socket: Socket): Promise<string> {
  let received = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => (received += chunk))
  return new Promise((resolve) => socket.once('close', () => resolve(received)))
}

/** Hooks that wait until released: each upgrade past the checks stays in progress. */
function holdingContext(): { context: () => Promise<object>; entered: () => number } {
  let entered = 0
  return {
    context: () => {
      entered++
      const release = deferred()
      releases.push(release)
      return release.promise.then(() => ({}))
    },
    entered: () => entered,
  }
}

describe('§9.1 maxHandshakes', () => {
  it('on listen(): silent sockets count; past the bound a new socket gets 503 at once, and room comes back', async () => {
    const { port } = await make({ maxHandshakes: 2 }).listen()
    const first = await silent(port)
    await silent(port)
    const third = await silent(port)
    expect(await answer(third)).toMatch(/^HTTP\/1\.1 503 [\s\S]*Too many handshakes in progress$/)
    first.destroy()
    // Once the server has seen the first go, a real client gets in.
    await expect.poll(() => raw(`ws://127.0.0.1:${port}`).then(() => true, () => false), { timeout: 5_000 }).toBe(true)
    await expectServed(raws[0] as RawClient, 1)
  })

  it('counts upgrades whose context hook runs; the next one gets 503 until one finishes', async () => {
    const hold = holdingContext()
    const { port } = await make({ maxHandshakes: 2, context: hold.context }).listen()
    const url = `ws://127.0.0.1:${port}`
    const pending = [raw(url), raw(url)]
    // The second stays held until afterEach closes the server (which refuses it then).
    pending[1]?.catch(() => {})
    await expect.poll(hold.entered).toBe(2)
    expect(await refusedUpgrade(url, ['patchbay.v1.json'])).toEqual({ status: 503, body: 'Too many handshakes in progress' })
    ;(releases.shift() as Deferred).resolve()
    await expectServed(await (pending[0] as Promise<RawClient>), 1)
    expect(server?.stats.refused).toBe(1)
  })

  it('on attach(): counts only upgrades, never the application\'s plain requests', async () => {
    const hold = holdingContext()
    http = createHttpServer((_request, response) => response.end('plain'))
    make({ maxHandshakes: 1, context: hold.context }).attach(http, { path: '/ws' })
    await new Promise<void>((resolve) => http?.listen(0, '127.0.0.1', resolve))
    const address = http.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    // Silent sockets on a shared server may be plain HTTP to come: not ours to refuse.
    await silent(port)
    await silent(port)
    void raw(`ws://127.0.0.1:${port}/ws`).catch(() => {})
    await expect.poll(hold.entered).toBe(1)
    expect(await refusedUpgrade(`ws://127.0.0.1:${port}/ws`, ['patchbay.v1.json'])).toEqual({ status: 503, body: 'Too many handshakes in progress' })
    const body = await new Promise<string>((resolve, reject) => {
      httpRequest({ port, host: '127.0.0.1', path: '/' }, (response) => {
        let text = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => (text += chunk))
        response.on('end', () => resolve(text))
      })
        .on('error', reject)
        .end()
    })
    expect(body).toBe('plain')
  })

  it('must be a positive integer', () => {
    expect(() => make({ maxHandshakes: 0 })).toThrow(/maxHandshakes/)
  })
})

describe('§4.2 idempotency.maxKeys bounds keyed calls that outlive their connection', () => {
  it('refuses a new key with TOO_MANY_REQUESTS while maxKeys keyed calls still run; a retry of one joins it', async () => {
    const { port } = await make({ idempotency: { maxKeys: 3 } }).listen()
    const url = `ws://127.0.0.1:${port}`
    const first = await raw(url)
    for (let id = 1; id <= 3; id++) first.send({ t: 'call', id, path: 'place', input: { n: id }, key: `key-${id}` })
    await expect.poll(() => runs).toBe(3)
    // The connection drops; its keyed calls run on (a retry on the next connection joins them).
    first.ws.terminate()
    const second = await raw(url)
    second.send({ t: 'call', id: 1, path: 'place', input: { n: 4 }, key: 'key-4' })
    expect(await second.next()).toMatchObject({ t: 'error', id: 1, error: { code: ErrorCode.TOO_MANY_REQUESTS } })
    expect(runs).toBe(3)
    second.send({ t: 'call', id: 2, path: 'place', input: { n: 1 }, key: 'key-1' })
    await expectServed(second, 3)
    ;(releases[0] as Deferred).resolve()
    expect(await second.next()).toEqual({ t: 'result', id: 2, output: 1 })
    expect(runs).toBe(3)
  })

  it('lets at most maxWaitersPerKey retries wait for one run, also across reconnects', async () => {
    const { port } = await make({ idempotency: { maxWaitersPerKey: 2 } }).listen()
    const url = `ws://127.0.0.1:${port}`
    const first = await raw(url)
    first.send({ t: 'call', id: 1, path: 'place', input: { n: 7 }, key: 'stuck' })
    await expect.poll(() => runs).toBe(1)
    // Two retries join the run, each from a connection that then drops: they keep waiting.
    for (let retry = 0; retry < 2; retry++) {
      const again = await raw(url)
      again.send({ t: 'call', id: 1, path: 'place', input: { n: 7 }, key: 'stuck' })
      await expectServed(again, 2)
      again.ws.terminate()
    }
    const last = await raw(url)
    last.send({ t: 'call', id: 1, path: 'place', input: { n: 7 }, key: 'stuck' })
    expect(await last.next()).toMatchObject({ t: 'error', id: 1, error: { code: ErrorCode.TOO_MANY_REQUESTS, message: 'More than 2 calls wait for this key' } })
    // Once the run ends, its outcome is remembered: a retry gets it at once.
    ;(releases[0] as Deferred).resolve()
    last.send({ t: 'call', id: 2, path: 'place', input: { n: 7 }, key: 'stuck' })
    expect(await last.next()).toEqual({ t: 'result', id: 2, output: 7 })
    expect(runs).toBe(1)
  })
})
