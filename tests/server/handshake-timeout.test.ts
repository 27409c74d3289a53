/**
 * docs/protocol.md §9.1: `handshakeTimeout` bounds a handshake from the moment its socket
 * connects, also for a peer that trickles its upgrade request a byte at a time or sends
 * nothing (Node alone would keep such a socket ~30 s, checking `headersTimeout` only every
 * `connectionsCheckingInterval`). On a shared http.Server (`attach()`) only the first
 * request's headers are timed: a plain request is the user's business once its headers are in.
 */
import { createServer as createHttpServer, type Server } from 'node:http'
import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { procedure, router } from '@patchbay/core'
import { createServer, type PatchbayServer, type ServerOptions } from '@patchbay/server'
import { connectRaw, expectServed } from '../conformance/support.js'

const api = router({ math: { add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }) } })
const TIMEOUT = 1_000
/** Room for a loaded 2-core machine; Node's own check would take ~30 s. */
const MARGIN = 1_500

let patchbay: PatchbayServer | undefined
let http: Server | undefined
const sockets: Socket[] = []
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy()
  await patchbay?.close()
  patchbay = undefined
  if (http !== undefined) {
    http.closeAllConnections()
    await new Promise((resolve) => http?.close(resolve))
    http = undefined
  }
})

function make(options: Partial<ServerOptions<typeof api, unknown>> = {}): PatchbayServer {
  patchbay = createServer(api, { handshakeTimeout: TIMEOUT, ...options, handlers: { math: { add: ({ input }) => input.a + input.b } } } as ServerOptions<typeof api, unknown>)
  return patchbay
}

function upgradeRequest(path = '/'): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
    'Sec-WebSocket-Protocol: patchbay.v1.json\r\n\r\n'
  )
}

/** What a raw socket saw: when it closed (ms after it connected) and what it was sent. */
interface Outcome {
  closedAfter: number
  received: string
}

/**
 * Connects to `port`, then writes `request` one byte every `everyMs` (never all of it: the
 * request here takes far longer than the timeout), and reports when the server closed it.
 */
function trickle(port: number, request: string, everyMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    sockets.push(socket)
    let received = ''
    let connectedAt = performance.now()
    let next = 0
    let timer: ReturnType<typeof setInterval> | undefined
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (received += chunk))
    socket.on('error', () => {})
    socket.once('connect', () => {
      connectedAt = performance.now()
      if (request === '') return
      timer = setInterval(() => {
        if (next < request.length && socket.writable) socket.write(request[next++] as string)
      }, everyMs)
    })
    socket.once('close', () => {
      clearInterval(timer)
      resolve({ closedAfter: performance.now() - connectedAt, received })
    })
  })
}

/** A bound on the whole wait, so a regression fails in seconds rather than at the 30 s mark. */
function boundedBy<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([promise, new Promise<T>((_resolve, reject) => setTimeout(() => reject(new Error(`still open after ${ms} ms`)), ms))])
}

async function listenShared(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  return typeof address === 'object' && address !== null ? address.port : 0
}

describe('§9.1 handshakeTimeout holds for a slow peer, on listen()', () => {
  it('drops a peer trickling its upgrade request a byte every 150 ms after handshakeTimeout, with 408', async () => {
    const server = make()
    const { port } = await server.listen()
    const outcome = await boundedBy(trickle(port, upgradeRequest(), 150), TIMEOUT + MARGIN)
    expect(outcome.closedAfter).toBeGreaterThanOrEqual(TIMEOUT - 50)
    expect(outcome.closedAfter).toBeLessThan(TIMEOUT + MARGIN)
    expect(outcome.received).toMatch(/^HTTP\/1\.1 408 /)
    expect(server.stats.refused).toBe(1)
    // The server serves others meanwhile and after.
    const client = await connectRaw(`ws://127.0.0.1:${port}`, 'json')
    await expectServed(client, 1)
    client.ws.terminate()
  })

  it('drops a peer that connects and sends nothing', async () => {
    const { port } = await make().listen()
    const outcome = await boundedBy(trickle(port, '', 150), TIMEOUT + MARGIN)
    expect(outcome.closedAfter).toBeGreaterThanOrEqual(TIMEOUT - 50)
    expect(outcome.received).toMatch(/^HTTP\/1\.1 408 /)
  })

  it('counts the time its headers took against the context hook: 408 at handshakeTimeout from the connection', async () => {
    // docs/protocol.md §2: an honest but slow context hook is refused with 408.
    const timeout = 2_000
    let hookAt: number | undefined
    const { port } = await make({
      handshakeTimeout: timeout,
      context: () => {
        hookAt = performance.now()
        return new Promise(() => {})
      },
    }).listen()
    const request = upgradeRequest()
    // Most of the request at once, the last 10 bytes slowly (~1 s), then the hook never
    // returns: the hook gets what is left of the budget, not a budget of its own.
    const outcome = await new Promise<Outcome>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      sockets.push(socket)
      let received = ''
      const connectedAt = performance.now()
      socket.setEncoding('utf8')
      socket.on('data', (chunk: string) => (received += chunk))
      socket.on('error', () => {})
      socket.write(request.slice(0, -10))
      let next = request.length - 10
      const timer = setInterval(() => {
        if (next < request.length) socket.write(request[next++] as string)
        else clearInterval(timer)
      }, 100)
      socket.once('close', () => {
        clearInterval(timer)
        resolve({ closedAfter: performance.now() - connectedAt, received })
      })
    })
    expect(outcome.received).toMatch(/^HTTP\/1\.1 408 /)
    expect(hookAt, 'the context hook ran').toBeDefined()
    expect(outcome.closedAfter).toBeGreaterThanOrEqual(timeout - 50)
    // Timed from the upgrade event instead, it would close ~1 s later, at ~3 s.
    expect(outcome.closedAfter).toBeLessThan(timeout + 700)
  })
})

describe('§9.1 handshakeTimeout holds for a slow peer, on attach()', () => {
  it('drops a peer trickling its upgrade request on a shared server after handshakeTimeout', async () => {
    http = createHttpServer((_request, response) => response.end('plain'))
    make().attach(http, { path: '/ws' })
    const port = await listenShared(http)
    const outcome = await boundedBy(trickle(port, upgradeRequest('/ws'), 150), TIMEOUT + MARGIN)
    expect(outcome.closedAfter).toBeGreaterThanOrEqual(TIMEOUT - 50)
    expect(outcome.received).toMatch(/^HTTP\/1\.1 408 /)
    const silent = await boundedBy(trickle(port, '', 150), TIMEOUT + MARGIN)
    expect(silent.closedAfter).toBeGreaterThanOrEqual(TIMEOUT - 50)
  })

  it('leaves a plain request alone once its headers are in, however slow its body', async () => {
    http = createHttpServer((request, response) => {
      // The user's handler reads a slow upload: past handshakeTimeout, that is its business.
      request.resume()
      request.once('end', () => response.end('done'))
    })
    make().attach(http, { path: '/ws' })
    const port = await listenShared(http)
    const socket = connect(port, '127.0.0.1')
    sockets.push(socket)
    let received = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (received += chunk))
    socket.write('POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 20\r\n\r\n')
    const body = 'x'.repeat(20)
    let next = 0
    const answered = new Promise<void>((resolve, reject) => {
      socket.once('close', () => reject(new Error('the shared server\'s plain request was dropped')))
      const timer = setInterval(() => {
        if (next < body.length) socket.write(body[next++] as string)
        if (received.includes('done')) {
          clearInterval(timer)
          resolve()
        }
      }, 100)
    })
    // 20 bytes at 100 ms: ~2 s, twice the handshake timeout.
    await answered
    expect(received).toMatch(/^HTTP\/1\.1 200 /)
  })
})
