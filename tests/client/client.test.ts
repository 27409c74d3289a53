import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { PatchbayError, procedure, router, type Codec, type Encoding } from '@patchbay/core'
import { createClient, type Client, type StateEvent } from '@patchbay/client'
import { startRawServer, type RawServer } from './raw-server.js'
import { closeAfterEach } from '../support/teardown.js'
import { codec } from '../support/codecs.js'

const api = router({
  echo: procedure({ input: z.object({ n: z.number() }), output: z.number() }),
  ping: procedure({ output: z.string() }),
})

let server: RawServer | undefined
const clients = closeAfterEach<Client<typeof api>>(async () => {
  await server?.close()
  server = undefined
})

function connect(url: string, options: { encodings?: (Codec | 'json')[]; timeout?: number; reconnect?: boolean } = {}): Client<typeof api> {
  const client = createClient(api, { url, WebSocket, ...options })
  clients.push(client)
  return client
}

async function failure(promise: Promise<unknown>): Promise<PatchbayError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(PatchbayError)
  return error as PatchbayError
}

describe.each<Encoding>(['json', 'msgpack'])('client against a raw %s server', (encoding) => {
  it('offers its encodings in order of preference (default json alone; msgpack by its codec)', async () => {
    server = await startRawServer(encoding)
    connect(server.url)
    connect(server.url, { encodings: ['json', codec('msgpack')] })
    connect(server.url, { encodings: [codec('msgpack'), 'json'] })
    await server.nextSocket()
    await server.nextSocket()
    await server.nextSocket()
    expect(server.offers).toEqual([
      ['patchbay.v1.json'],
      ['patchbay.v1.json', 'patchbay.v1.msgpack'],
      ['patchbay.v1.msgpack', 'patchbay.v1.json'],
    ])
  })

  it('sends calls made while connecting once open, and resolves replies answered in reverse order', async () => {
    server = await startRawServer(encoding)
    const client = connect(server.url, { encodings: [codec(encoding)] })
    const calls = Array.from({ length: 200 }, (_, n) => client.echo({ n }))
    const socket = await server.nextSocket()
    const received: Record<string, unknown>[] = []
    for (let i = 0; i < 200; i++) received.push(await server.nextMessage(socket))
    expect(received.map((message) => message.t)).toEqual(Array(200).fill('call'))
    expect(new Set(received.map((message) => message.id)).size).toBe(200)
    for (const message of received.reverse()) {
      server.send(socket, { t: 'result', id: message.id, output: (message.input as { n: number }).n * 10 })
    }
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 200 }, (_, n) => n * 10))
  })

  it('drops and counts replies for unknown or finished ids, never throws', async () => {
    server = await startRawServer(encoding)
    const client = connect(server.url, { encodings: [codec(encoding)] })
    const call = client.ping()
    const socket = await server.nextSocket()
    const message = await server.nextMessage(socket)
    server.send(socket, { t: 'result', id: 9999, output: 'stray' })
    server.send(socket, { t: 'result', id: message.id, output: 'pong' })
    server.send(socket, { t: 'result', id: message.id, output: 'twice' })
    await expect(call).resolves.toBe('pong')
    // A ping round trip orders us after the stray frames.
    const second = client.ping()
    const next = await server.nextMessage(socket)
    server.send(socket, { t: 'result', id: next.id, output: 'again' })
    await expect(second).resolves.toBe('again')
    expect(client.stats.lateReplies).toBe(2)
  })

  it('turns error replies into PatchbayError with code, data and issues', async () => {
    server = await startRawServer(encoding)
    const client = connect(server.url, { encodings: [codec(encoding)] })
    const call = client.echo({ n: 1 })
    const socket = await server.nextSocket()
    const message = await server.nextMessage(socket)
    server.send(socket, { t: 'error', id: message.id, error: { code: 'BAD_REQUEST', message: 'no', data: { x: 1 }, issues: [{ message: 'bad', path: ['n'] }] } })
    const error = await failure(call)
    expect(error.code).toBe('BAD_REQUEST')
    expect(error.data).toEqual({ x: 1 })
    expect(error.issues).toEqual([{ message: 'bad', path: ['n'] }])
  })

  it('times out calls in deadline order and tells the server with cancel frames', async () => {
    server = await startRawServer(encoding)
    const client = connect(server.url, { encodings: [codec(encoding)] })
    // Open first: on a loaded machine a 20 ms call made while connecting expires before the
    // socket opens and is never sent (correctly), and the server would wait for it forever.
    const opened = client.connect()
    const socket = await server.nextSocket()
    await opened
    const order: number[] = []
    // Deadlines 200 ms apart: the three calls are made in one synchronous run, but a loaded
    // machine can preempt the process between two of them for tens of milliseconds.
    const calls = [600, 200, 400].map((timeout) =>
      client.echo({ n: timeout }, { timeout }).catch((error: unknown) => {
        order.push(timeout)
        return error
      }),
    )
    const sent = [await server.nextMessage(socket), await server.nextMessage(socket), await server.nextMessage(socket)]
    const errors = (await Promise.all(calls)) as PatchbayError[]
    expect(errors.map((error) => error.code)).toEqual(['TIMEOUT', 'TIMEOUT', 'TIMEOUT'])
    expect(order).toEqual([200, 400, 600])
    const cancels = [await server.nextMessage(socket), await server.nextMessage(socket), await server.nextMessage(socket)]
    expect(cancels.map((message) => message.t)).toEqual(['cancel', 'cancel', 'cancel'])
    expect(cancels.map((message) => message.id)).toEqual([sent[1]?.id, sent[2]?.id, sent[0]?.id])
    // A reply after the timeout is late: counted, not thrown.
    server.send(socket, { t: 'result', id: sent[0]?.id, output: 1 })
    const ok = client.ping()
    const next = await server.nextMessage(socket)
    server.send(socket, { t: 'result', id: next.id, output: 'ok' })
    await ok
    expect(client.stats.lateReplies).toBe(1)
  })

  it('counts a timeout from when the call is made, even late in a long synchronous run', async () => {
    server = await startRawServer(encoding)
    const client = connect(server.url, { encodings: [codec(encoding)] })
    await client.connect()
    // One call, then 300 ms of synchronous work, then a call with a 200 ms timeout: its
    // deadline is 200 ms after it was made, not after the run began.
    const first = client.echo({ n: 1 }, { timeout: 5_000 })
    const until = Date.now() + 300
    while (Date.now() < until) {
      // busy
    }
    const second = client.echo({ n: 2 }, { timeout: 200 })
    const socket = await server.nextSocket()
    const sent = [await server.nextMessage(socket), await server.nextMessage(socket)]
    await new Promise((resolve) => setTimeout(resolve, 50))
    for (const message of sent) server.send(socket, { t: 'result', id: message.id, output: (message.input as { n: number }).n })
    expect(await first).toBe(1)
    expect(await second).toBe(2)
  })

  it('an AbortSignal rejects with CANCELLED and sends cancel; a pre-aborted signal sends nothing', async () => {
    server = await startRawServer(encoding)
    const client = connect(server.url, { encodings: [codec(encoding)] })
    await client.connect()
    const socket = await server.nextSocket()
    const aborted = new AbortController()
    aborted.abort(new Error('before'))
    expect((await failure(client.ping(undefined, { signal: aborted.signal }))).code).toBe('CANCELLED')
    const controller = new AbortController()
    const call = client.echo({ n: 1 }, { signal: controller.signal })
    const message = await server.nextMessage(socket)
    expect(message).toMatchObject({ t: 'call', path: 'echo' })
    controller.abort(new Error('user left'))
    const error = await failure(call)
    expect(error.code).toBe('CANCELLED')
    expect((error.cause as Error).message).toBe('user left')
    expect(await server.nextMessage(socket)).toEqual({ t: 'cancel', id: message.id })
  })

  it('without reconnect, rejects calls in flight with CONNECTION_LOST when the server drops the socket', async () => {
    server = await startRawServer(encoding)
    const client = connect(server.url, { encodings: [codec(encoding)], reconnect: false })
    const states: StateEvent[] = []
    client.on('state', (event) => states.push(event))
    const call = client.ping()
    const socket = await server.nextSocket()
    await server.nextMessage(socket)
    socket.close(4000, 'bye now')
    expect((await failure(call)).code).toBe('CONNECTION_LOST')
    expect(client.state).toBe('closed')
    expect(states.at(-1)).toMatchObject({ state: 'closed', code: 4000, reason: 'bye now', failure: { kind: 'closed', closeCode: 4000, closeReason: 'bye now' } })
    expect((await failure(client.ping())).code).toBe('CONNECTION_FAILED')
  })

  it('closes with 4400 when the server sends garbage', async () => {
    server = await startRawServer(encoding)
    const client = connect(server.url, { encodings: [codec(encoding)] })
    const call = client.ping()
    const socket = await server.nextSocket()
    await server.nextMessage(socket)
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
    // A result whose id is not a number (§3's `[2, id, output?]`), or bytes that decode to nothing.
    socket.send(encoding === 'json' ? '[2,"x"]' : new Uint8Array([0xc1]))
    expect(await closed).toBe(4400)
    expect((await failure(call)).code).toBe('CONNECTION_LOST')
  })

  it('closes with 4406 when the server picks no subprotocol it offered', async () => {
    server = await startRawServer(encoding, () => 'something-else')
    const client = connect(server.url, { encodings: [codec(encoding)], reconnect: false })
    const call = client.ping()
    // ws itself refuses a subprotocol the client never offered; either way nothing is sent.
    expect((await failure(call)).code).toBe('CONNECTION_FAILED')
    expect(client.state).toBe('closed')
  })
})

describe('client basics', () => {
  it('fails with CONNECTION_FAILED when nothing listens', async () => {
    const probe = await startRawServer('json')
    const url = probe.url
    await probe.close()
    const client = connect(url, { reconnect: false })
    expect((await failure(client.connect())).code).toBe('CONNECTION_FAILED')
    expect((await failure(client.ping())).code).toBe('CONNECTION_FAILED')
  })

  it('is never thenable, at any level', async () => {
    const probe = await startRawServer('json')
    server = probe
    const client = connect(probe.url)
    expect((client as unknown as { then?: unknown }).then).toBeUndefined()
    expect(await Promise.resolve(client)).toBe(client)
    expect((client as unknown as { nope?: unknown }).nope).toBeUndefined()
  })

  it('needs a WebSocket class where there is no global one (Node 20)', () => {
    const hasGlobal = typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'function'
    const make = (): unknown => createClient(api, { url: 'ws://127.0.0.1:1', timeout: 1 })
    if (hasGlobal) expect(make).not.toThrow()
    else expect(make).toThrow(/pass the `ws` class/)
  })
})
