/**
 * Reconnection against a real server that goes away and comes back on the same port:
 * backoff, calls in flight vs queued, resubscription, fatal codes, and close() while waiting.
 */
import { describe, expect, it } from 'vitest'
import { createServer as createHttpServer } from 'node:http'
import { createServer as createNetServer, type AddressInfo } from 'node:net'
import WebSocket, { WebSocketServer } from 'ws'
import { z } from 'zod'
import { PatchbayError, procedure, router, topic, type Encoding } from '@patchbay/core'
import { createServer, type PatchbayServer } from '@patchbay/server'
import { backoffDelay, createClient, type Client, type StateEvent } from '@patchbay/client'
import { closeAfterEach } from '../support/teardown.js'
import { codec } from '../support/codecs.js'
import { fromWire, toWire } from '../support/wire.js'

const api = router({
  echo: procedure({ input: z.string(), output: z.string() }),
  hang: procedure({ output: z.null() }),
  news: topic({ message: z.string() }),
})

let server: PatchbayServer | undefined
const clients = closeAfterEach<Client<typeof api>>(async () => {
  await server?.close()
  server = undefined
})

async function serve(port = 0): Promise<number> {
  server = createServer(api, {
    closeTimeout: 50,
    handlers: { echo: ({ input }) => input, hang: () => new Promise<null>(() => {}) },
  })
  return (await server.listen({ port, host: '127.0.0.1' })).port
}

/** A port nothing listens on (connections to it are refused until a server takes it). */
async function freePort(): Promise<number> {
  const probe = createNetServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  return port
}

function waitFor(client: Client<typeof api>, state: StateEvent['state']): Promise<StateEvent> {
  return new Promise((resolve) => {
    const off = client.on('state', (event) => {
      if (event.state === state) {
        off()
        resolve(event)
      }
    })
  })
}

describe('backoff', () => {
  it('grows exponentially with full jitter under a cap, and never spins', () => {
    expect(backoffDelay(0, 250, 10_000, () => 0)).toBe(50)
    expect(backoffDelay(0, 250, 10_000, () => 0.999)).toBeLessThanOrEqual(250)
    expect(backoffDelay(3, 250, 10_000, () => 0.999)).toBeLessThanOrEqual(2000)
    expect(backoffDelay(3, 250, 10_000, () => 0.999)).toBeGreaterThan(1000)
    expect(backoffDelay(20, 250, 10_000, () => 0.999)).toBeLessThanOrEqual(10_000)
    const draws = new Set(Array.from({ length: 50 }, () => backoffDelay(4, 250, 10_000)))
    expect(draws.size).toBeGreaterThan(10)
  })
})

describe.each<Encoding>(['json', 'msgpack'])('reconnect over %s', (encoding) => {
  it('comes back after the server restarts: in-flight calls fail CONNECTION_LOST, queued calls and subscriptions carry on', async () => {
    const port = await serve()
    const client = createClient(api, { url: `ws://127.0.0.1:${port}`, WebSocket, encodings: [codec(encoding)], reconnect: { retryDelay: 20, maxRetryDelay: 100 } })
    clients.push(client)
    const heard: string[] = []
    let wake: (() => void) | undefined
    await client.news.subscribe((message) => {
      heard.push(message)
      wake?.()
    }).ready
    const inFlight = client.hang().catch((error: unknown) => error)
    await client.echo('before')
    const reconnecting = waitFor(client, 'reconnecting')
    await server?.close()
    const event = await reconnecting
    expect(event.code).toBe(1001)
    expect(((await inFlight) as PatchbayError).code).toBe('CONNECTION_LOST')
    // Made while disconnected: waits and goes out on the new connection.
    const queued = client.echo('while away')
    const reopened = waitFor(client, 'open')
    await serve(port)
    await reopened
    await expect(queued).resolves.toBe('while away')
    // The subscription was made again on the new server.
    while (server?.topicStats.subscriptions !== 1) await client.echo('sync')
    const arrived = new Promise<void>((resolve) => (wake = resolve))
    server.publish(api.news, undefined, 'after restart')
    await arrived
    expect(heard).toEqual(['after restart'])
  })
})

describe('reconnect limits', () => {
  it('stops at a fatal close code and surfaces it, without retrying', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (offered) => [...offered][0] ?? false })
    await new Promise((resolve) => wss.once('listening', resolve))
    let connections = 0
    wss.on('connection', (socket) => {
      connections++
      socket.close(4403, 'not for you')
    })
    const address = wss.address() as AddressInfo
    const client = createClient(api, { url: `ws://127.0.0.1:${address.port}`, WebSocket, reconnect: { retryDelay: 10 } })
    clients.push(client)
    const event = await waitFor(client, 'closed')
    expect(event).toMatchObject({ code: 4403, reason: 'not for you' })
    expect(connections).toBe(1)
    await expect(client.echo('x')).rejects.toMatchObject({ code: 'CONNECTION_FAILED' })
    await new Promise((resolve) => wss.close(resolve))
  })

  it('gives up after `retries` failed attempts, and connect() rejects', async () => {
    let attempts = 0
    const http = createHttpServer()
    http.on('upgrade', (_request, socket) => {
      attempts++
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
    })
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    const address = http.address() as AddressInfo
    const client = createClient(api, { url: `ws://127.0.0.1:${address.port}`, WebSocket, reconnect: { retries: 2, retryDelay: 10 } })
    clients.push(client)
    await expect(client.connect()).rejects.toMatchObject({ code: 'CONNECTION_FAILED' })
    expect(attempts).toBe(3)
    expect(client.state).toBe('closed')
    await new Promise((resolve) => http.close(resolve))
  })

  // docs/guide/lifecycle.md: by default a client rides out an outage of any length (the old
  // default gave up after 10 retries, ~28 s, and left clients closed after a 30 s outage).
  it('by default keeps retrying past the old limit of 10 attempts, and connects when the server is back', async () => {
    const port = await freePort()
    // Small delays only: the retry count is left at its default.
    const client = createClient(api, { url: `ws://127.0.0.1:${port}`, WebSocket, reconnect: { retryDelay: 10, maxRetryDelay: 20 } })
    clients.push(client)
    let failures = 0
    await new Promise<void>((resolve, reject) => {
      client.on('state', ({ state }) => {
        if (state === 'closed') reject(new Error(`closed after ${failures} failed attempts`))
        if (state === 'reconnecting' && ++failures === 25) resolve()
      })
    })
    expect(client.state).not.toBe('closed')
    await serve(port)
    await expect(client.echo('back')).resolves.toBe('back')
    expect(client.state).toBe('open')
  })

  it('close() while reconnecting ends at once and fails what waits', async () => {
    const port = await serve()
    const client = createClient(api, { url: `ws://127.0.0.1:${port}`, WebSocket, reconnect: { retryDelay: 10_000, maxRetryDelay: 10_000 } })
    clients.push(client)
    await client.connect()
    const reconnecting = waitFor(client, 'reconnecting')
    await server?.close()
    server = undefined
    await reconnecting
    const waiting = client.echo('never sent')
    await client.close()
    expect(client.state).toBe('closed')
    await expect(waiting).rejects.toMatchObject({ code: 'CONNECTION_LOST' })
  })

  it('bounds the calls that wait for a connection', async () => {
    const port = await serve()
    const client = createClient(api, { url: `ws://127.0.0.1:${port}`, WebSocket, maxQueued: 2 })
    clients.push(client)
    const first = client.echo('1')
    const second = client.echo('2')
    await expect(client.echo('3')).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS' })
    await expect(Promise.all([first, second])).resolves.toEqual(['1', '2'])
  })
})

describe('dead-server detection', () => {
  it('pings when idle, and drops and reconnects when nothing answers', async () => {
    // A server that accepts, then goes silent: it never answers application pings.
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (offered) => [...offered][0] ?? false })
    await new Promise((resolve) => wss.once('listening', resolve))
    let connections = 0
    const pings: unknown[] = []
    wss.on('connection', (socket) => {
      connections++
      socket.on('message', (data: Buffer) => pings.push(fromWire(JSON.parse(data.toString()))))
    })
    const address = wss.address() as AddressInfo
    const client = createClient(api, {
      url: `ws://127.0.0.1:${address.port}`,
      WebSocket,
      encodings: ['json'],
      pingInterval: 30,
      pongTimeout: 30,
      reconnect: { retryDelay: 10, maxRetryDelay: 20 },
    })
    clients.push(client)
    const event = await waitFor(client, 'reconnecting')
    expect(event).toMatchObject({ code: 1006, reason: 'The server did not answer a ping' })
    expect(pings[0]).toEqual({ t: 'ping' })
    await waitFor(client, 'open')
    expect(connections).toBe(2)
    await client.close()
    await new Promise((resolve) => wss.close(resolve))
  })

  it('stays connected to a server that answers', async () => {
    // pongTimeout well above the interval: the answer must not count as missing because the
    // suite's other workers held this process up for a few tens of milliseconds.
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (offered) => [...offered][0] ?? false })
    await new Promise((resolve) => wss.once('listening', resolve))
    let pings = 0
    let fifth!: () => void
    const fivePings = new Promise<void>((resolve) => (fifth = resolve))
    wss.on('connection', (socket) => {
      socket.on('message', (data: Buffer) => {
        const message = fromWire(JSON.parse(data.toString())) as { t: string }
        if (message.t !== 'ping') return
        socket.send(JSON.stringify(toWire({ t: 'pong' })))
        if (++pings === 5) fifth()
      })
    })
    const address = wss.address() as AddressInfo
    const client = createClient(api, { url: `ws://127.0.0.1:${address.port}`, WebSocket, encodings: ['json'], pingInterval: 20, pongTimeout: 200 })
    clients.push(client)
    const states: string[] = []
    client.on('state', ({ state }) => states.push(state))
    await client.connect()
    await fivePings
    expect(states).toEqual(['open'])
    expect(client.state).toBe('open')
    await client.close()
    await new Promise((resolve) => wss.close(resolve))
  })
})
