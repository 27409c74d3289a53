/**
 * A connection that fails says why (docs/guide/errors.md, docs/protocol.md §2, §8): the system
 * error of a refused port or a name that does not resolve, the HTTP status and body of a
 * refused upgrade, and a subprotocol mismatch, which is fatal (4406) and names both sides.
 * Real sockets on 127.0.0.1; the DNS case uses the `.invalid` TLD (RFC 6761: it never
 * resolves, and the lookup leaves nothing but a query to the local resolver).
 */
import { describe, expect, it } from 'vitest'
import { createServer as createHttpServer } from 'node:http'
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net'
import WebSocket, { WebSocketServer } from 'ws'
import { z } from 'zod'
import { PatchbayError, procedure, router } from '@patchbay/core'
import { createServer, type PatchbayServer } from '@patchbay/server'
import { ConnectionFailure, createClient, type Client, type ClientOptions, type StateEvent } from '@patchbay/client'
import { closeAfterEach } from '../support/teardown.js'
import { codec } from '../support/codecs.js'

const api = router({ echo: procedure({ input: z.string(), output: z.string() }) })
const V1 = ['patchbay.v1.msgpack', 'patchbay.v1.json']

const cleanups: (() => unknown)[] = []
const clients = closeAfterEach<Client<typeof api>>(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

// Both encodings offered (msgpack by its codec), so the errors name a two-entry offer.
function client(url: string, options: Partial<ClientOptions> = {}): Client<typeof api> {
  const made = createClient(api, { url, WebSocket, encodings: [codec('msgpack'), 'json'], ...options })
  clients.push(made)
  return made
}

/** A port that was bound and closed: connecting to it is refused. */
async function refusedPort(): Promise<number> {
  const probe = createNetServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  return port
}

async function rejection(promise: Promise<unknown>): Promise<PatchbayError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof PatchbayError) return error
    throw error
  }
  throw new Error('expected a rejection')
}

function failureOf(error: PatchbayError): ConnectionFailure {
  expect(error.cause).toBeInstanceOf(ConnectionFailure)
  return error.cause as ConnectionFailure
}

async function patchbay(options: Record<string, unknown>): Promise<{ url: string; server: PatchbayServer }> {
  const server = createServer(api, { handlers: { echo: ({ input }) => input }, ...options })
  cleanups.push(() => server.close())
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
  return { url: `ws://127.0.0.1:${port}`, server }
}

function states(made: Client<typeof api>): StateEvent[] {
  const seen: StateEvent[] = []
  made.on('state', (event) => seen.push(event))
  return seen
}

describe('a connection that fails says why', () => {
  it('a refused port: ECONNREFUSED, at once, not a TIMEOUT after 30 s', async () => {
    const url = `ws://127.0.0.1:${await refusedPort()}`
    const started = Date.now()
    const error = await rejection(client(url, { reconnect: false }).connect())
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(error.code).toBe('CONNECTION_FAILED')
    expect(error.message).toContain('ECONNREFUSED')
    expect(error.message).toContain(url)
    expect(failureOf(error)).toMatchObject({ kind: 'refused', systemCode: 'ECONNREFUSED', url, offered: V1 })
  })

  it('a name that does not resolve (.invalid): the DNS error', async () => {
    const url = 'ws://patchbay-test.invalid:8080'
    const made = client(url, { reconnect: false })
    const seen = states(made)
    const error = await rejection(made.connect())
    const failure = failureOf(error)
    expect(failure.kind).toBe('dns')
    // ENOTFOUND from a resolver that answers; EAI_AGAIN from one that cannot be reached.
    expect(['ENOTFOUND', 'EAI_AGAIN']).toContain(failure.systemCode)
    expect(error.message).toContain('does not resolve')
    expect(error.message).toContain('patchbay-test.invalid')
    expect(seen.at(-1)).toMatchObject({ state: 'closed', code: 1006, failure: { kind: 'dns' } })
  })

  it("a refused upgrade: the HTTP status and the body of the server's answer (a context hook's 401)", async () => {
    const { url } = await patchbay({
      context: () => {
        throw new PatchbayError('UNAUTHORIZED', 'Sign in again')
      },
    })
    const made = client(url, { reconnect: false, token: 'secret-token-42' })
    const error = await rejection(made.echo('x'))
    expect(error.code).toBe('CONNECTION_FAILED')
    expect(error.message).toContain('HTTP 401: Sign in again')
    expect(failureOf(error)).toMatchObject({ kind: 'http', status: 401, body: 'Sign in again', offered: V1 })
    // The credential rode as a subprotocol; it is never repeated in an error (§2.1).
    expect(JSON.stringify({ ...failureOf(error), message: error.message })).not.toContain('secret-token-42')
    expect(JSON.stringify(failureOf(error).offered)).not.toContain('patchbay.auth')
  })

  it('a route that accepts TCP and never answers the upgrade: a timeout naming connectTimeout, at connectTimeout', async () => {
    const held: Socket[] = []
    const silent = createNetServer((socket) => held.push(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => {
      for (const socket of held) socket.destroy()
      return new Promise((resolve) => silent.close(resolve))
    })
    const CONNECT_TIMEOUT = 300
    const started = Date.now()
    const error = await rejection(client(`ws://127.0.0.1:${(silent.address() as AddressInfo).port}`, { reconnect: false, connectTimeout: CONNECT_TIMEOUT }).connect())
    const elapsed = Date.now() - started
    expect(elapsed).toBeGreaterThanOrEqual(CONNECT_TIMEOUT - 20)
    expect(elapsed).toBeLessThan(CONNECT_TIMEOUT + 1_000)
    expect(failureOf(error)).toMatchObject({ kind: 'timeout' })
    expect(error.message).toContain(`within ${CONNECT_TIMEOUT} ms (connectTimeout)`)
  })

  it('a body past 1 KiB is cut, and a plain HTTP server that answers 503 is named too', async () => {
    const http = createHttpServer()
    http.on('upgrade', (_request, socket) => {
      const body = 'x'.repeat(5_000)
      socket.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`)
    })
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise((resolve) => http.close(resolve)))
    const error = await rejection(client(`ws://127.0.0.1:${(http.address() as AddressInfo).port}`, { reconnect: false }).connect())
    const failure = failureOf(error)
    expect(failure).toMatchObject({ kind: 'http', status: 503 })
    expect(failure.body).toHaveLength(1024)
  })
})

describe('a protocol mismatch is fatal and names both sides (§2, §8: 4406)', () => {
  it('HTTP 400 naming other subprotocols (a server speaking only patchbay.v2.json): one attempt, closed 4406', async () => {
    let attempts = 0
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      // What a v2-only Patchbay server would answer (§2): 400 and the subprotocols it speaks.
      verifyClient: (_info, done) => {
        attempts++
        done(false, 400, 'No supported WebSocket subprotocol; offer one of: patchbay.v2.json')
      },
    })
    await new Promise((resolve) => wss.once('listening', resolve))
    cleanups.push(() => new Promise((resolve) => wss.close(resolve)))
    // The default reconnect: it would retry a retryable failure forever.
    const made = client(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { reconnect: { retryDelay: 10, maxRetryDelay: 20 } })
    const seen = states(made)
    const error = await rejection(made.connect())
    expect(error.code).toBe('CONNECTION_FAILED')
    expect(error.message).toContain('patchbay.v1.msgpack, patchbay.v1.json')
    expect(error.message).toContain('patchbay.v2.json')
    expect(failureOf(error)).toMatchObject({ kind: 'subprotocol', status: 400, serverSubprotocols: ['patchbay.v2.json'], offered: V1 })
    expect(made.state).toBe('closed')
    expect(seen.filter((event) => event.state === 'reconnecting')).toEqual([])
    expect(seen.at(-1)).toMatchObject({ state: 'closed', code: 4406 })
    expect(attempts).toBe(1)
  })

  it('a server answering a subprotocol the client did not offer: one attempt, names what it answered', async () => {
    let attempts = 0
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      handleProtocols: () => {
        attempts++
        return 'patchbay.v2.json'
      },
    })
    await new Promise((resolve) => wss.once('listening', resolve))
    cleanups.push(() => new Promise((resolve) => wss.close(resolve)))
    const made = client(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { encodings: ['json'], reconnect: { retryDelay: 10, maxRetryDelay: 20 } })
    const error = await rejection(made.connect())
    expect(failureOf(error)).toMatchObject({ kind: 'subprotocol', answered: 'patchbay.v2.json', offered: ['patchbay.v1.json'] })
    expect(error.message).toContain('offered patchbay.v1.json')
    expect(error.message).toContain('the server answered patchbay.v2.json')
    expect(made.state).toBe('closed')
    expect(attempts).toBe(1)
  })

  it("Patchbay's own server with another encoding: 400, fatal, both sides named", async () => {
    const { url } = await patchbay({ encodings: ['json'] })
    const error = await rejection(client(url, { encodings: [codec('msgpack')] }).echo('x'))
    expect(failureOf(error)).toMatchObject({ kind: 'subprotocol', status: 400, serverSubprotocols: ['patchbay.v1.json'], offered: ['patchbay.v1.msgpack'] })
  })
})

describe('what waits for a connection that never comes (docs/guide/lifecycle.md)', () => {
  it("a call waiting while the client retries fails at its timeout with the connection's last error, not a bare TIMEOUT", async () => {
    const url = `ws://127.0.0.1:${await refusedPort()}`
    const made = client(url, { reconnect: { retryDelay: 10, maxRetryDelay: 50 } })
    const seen = states(made)
    const TIMEOUT = 300
    const started = Date.now()
    const error = await rejection(made.echo('x', { timeout: TIMEOUT }))
    const elapsed = Date.now() - started
    // At its timeout (the deadline timer may fire a little early or late on a loaded machine).
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT - 20)
    expect(elapsed).toBeLessThan(TIMEOUT + 1_000)
    expect(error.code).toBe('CONNECTION_FAILED')
    expect(error.message).toContain('ECONNREFUSED')
    expect(failureOf(error).kind).toBe('refused')
    // The client itself keeps trying, and says why on every retry.
    expect(made.state).not.toBe('closed')
    const retries = seen.filter((event) => event.state === 'reconnecting')
    expect(retries.length).toBeGreaterThan(0)
    for (const event of retries) expect(event.failure).toMatchObject({ kind: 'refused', systemCode: 'ECONNREFUSED' })
  })

  it('connect() rejects as soon as reconnecting gives up after `retries`, with the last error and the attempts', async () => {
    const url = `ws://127.0.0.1:${await refusedPort()}`
    const made = client(url, { reconnect: { retries: 3, retryDelay: 10, maxRetryDelay: 20 } })
    let closedAt = 0
    let attempts = 0
    made.on('state', ({ state }) => {
      if (state === 'connecting') attempts++
      if (state === 'closed') closedAt = Date.now()
    })
    const waiting = made.echo('never')
    const error = await rejection(made.connect())
    // In the same turn as the end, not at a timeout.
    expect(Date.now() - closedAt).toBeLessThan(100)
    expect(attempts).toBe(3) // the first attempt starts before a listener can hear it
    expect(error.message).toContain('(4 attempts)')
    expect(failureOf(error).kind).toBe('refused')
    const call = await rejection(waiting)
    expect(call.code).toBe('CONNECTION_FAILED')
    expect(failureOf(call).kind).toBe('refused')
    // And a later connect() says the same.
    expect(failureOf(await rejection(made.connect())).kind).toBe('refused')
  })

  it('after the server went away for good: connect() and the calls queued while reconnecting fail with why', async () => {
    const { url, server } = await patchbay({ closeTimeout: 50 })
    const made = client(url, { reconnect: { retries: 2, retryDelay: 10, maxRetryDelay: 20 } })
    await made.connect()
    const reconnecting = new Promise<void>((resolve) => made.on('state', ({ state }) => state === 'reconnecting' && resolve()))
    await server.close()
    await reconnecting
    const queued = made.echo('while away')
    const connecting = made.connect()
    const error = await rejection(connecting)
    expect(error.code).toBe('CONNECTION_FAILED')
    expect(failureOf(error).kind).toBe('refused')
    // The attempts after the drop, not the drop itself.
    expect(error.message).toContain('(2 attempts)')
    const call = await rejection(queued)
    expect(call.code).toBe('CONNECTION_FAILED')
    expect(failureOf(call)).toMatchObject({ kind: 'refused', systemCode: 'ECONNREFUSED' })
  })
})
