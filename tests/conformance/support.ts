/**
 * Shared support for the raw-frame conformance suite (docs/protocol.md) and the raw-frame
 * tests in tests/protocol: a real Patchbay server on 127.0.0.1 port 0, a raw `ws` client
 * that sends hand-made frames and lets a test await the n-th decoded frame or the close,
 * and a harness (`useHarness`) that checks, after every test, that a bystander connection
 * opened before the test is still served.
 *
 * Nothing here sleeps: every wait is on a frame, a close, or a handler the test controls.
 */
import { afterEach, beforeEach, expect } from 'vitest'
import WebSocket from 'ws'
import { Packr, unpack } from 'msgpackr'
import { z } from 'zod'
import { PatchbayError, procedure, router, stream, topic, type Encoding, type Limits } from '@patchbay/core'
import { createServer, type PatchbayServer } from '@patchbay/server'
import { fromWire, toWire } from '../support/wire.js'

export const JSON_PROTOCOL = 'patchbay.v1.json'
export const MSGPACK_PROTOCOL = 'patchbay.v1.msgpack'
export const PROTOCOL: Readonly<Record<Encoding, string>> = { json: JSON_PROTOCOL, msgpack: MSGPACK_PROTOCOL }
export const ENCODINGS: Encoding[] = ['json', 'msgpack']

/** The Origin the default server allows. */
export const GOOD_ORIGIN = 'https://app.example'

// useRecords: false so a frame is plain MessagePack, as any implementation would write it.
const packr = new Packr({ useRecords: false })

/**
 * Encodes a message by hand: JSON text, or MessagePack bytes. A message object (`{ t, ... }`)
 * goes as §3's array (tests/support/wire.ts); anything else as it is.
 */
export function encode(encoding: Encoding, message: unknown): string | Uint8Array {
  return encodeValue(encoding, toWire(message))
}

/** Encodes `value` exactly as given, never as a message object's array: for frames that are not arrays. */
export function encodeValue(encoding: Encoding, value: unknown): string | Uint8Array {
  return encoding === 'json' ? JSON.stringify(value) : packr.pack(value)
}

export const api = router({
  math: { add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }) },
  held: {
    /** Resolves only when the test releases it; records its signal's abort. */
    echo: procedure({ input: z.object({ n: z.number().int() }), output: z.object({ n: z.number() }) }),
  },
  health: procedure({ output: z.literal('ok') }),
  fail: {
    custom: procedure({ output: z.null() }),
    crash: procedure({ output: z.null() }),
  },
  /**
   * docs/protocol.md §3: null is a value, absence is the array ending before it. One input
   * schema takes null and not absence, the other absence and not null.
   */
  payload: {
    nullOnly: procedure({ input: z.null(), output: z.literal('null') }),
    absentOnly: procedure({ input: z.undefined(), output: z.literal('absent') }),
  },
  /** A topic clients may publish to. */
  chat: topic({ message: z.object({ n: z.number() }), publish: 'client' }),
  /** Yields 1..to (forever without `to`); counts what it produced and when it finished. */
  count: stream({ input: z.object({ to: z.number().int().optional() }), output: z.number() }),
})

export interface Deferred<T = void> {
  promise: Promise<T>
  resolve: (value: T) => void
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((res) => (resolve = res))
  return { promise, resolve }
}

export interface ServerSetup {
  limits?: Partial<Limits>
  encodings?: Encoding[]
}

/** A running server and the handlers it holds open. */
export class TestServer {
  readonly held = new Map<number, () => void>()
  readonly aborted = new Map<number, unknown>()
  /** The `count` stream: items produced and generators finished (their `finally` ran). */
  readonly streams = { produced: 0, finished: 0 }
  private arrivalWaiters: { count: number; done: () => void }[] = []
  private abortWaiters = new Map<number, () => void>()
  server!: PatchbayServer
  url = ''
  closed = false

  async start(setup: ServerSetup): Promise<this> {
    const streams = this.streams
    this.server = createServer(api, {
      ...(setup.limits === undefined ? {} : { limits: setup.limits }),
      ...(setup.encodings === undefined ? {} : { encodings: setup.encodings }),
      origins: [GOOD_ORIGIN],
      closeTimeout: 2_000,
      // The query string picks how the context hook behaves, so one server covers every case.
      context: ({ url }) => {
        switch (url.searchParams.get('auth')) {
          case 'unauthorized':
            throw new PatchbayError('UNAUTHORIZED', 'token expired')
          case 'forbidden':
            throw new PatchbayError('FORBIDDEN', 'not on the list')
          case 'crash':
            throw new Error('secret db password')
          default:
            return { user: 'anon' }
        }
      },
      handlers: {
        math: { add: ({ input }) => input.a + input.b },
        held: {
          echo: ({ input, signal }) =>
            new Promise((resolve) => {
              signal.addEventListener('abort', () => {
                this.aborted.set(input.n, signal.reason)
                this.abortWaiters.get(input.n)?.()
              })
              this.held.set(input.n, () => resolve({ n: input.n }))
              this.arrivalWaiters = this.arrivalWaiters.filter((waiter) => {
                if (this.held.size < waiter.count) return true
                waiter.done()
                return false
              })
            }),
        },
        health: () => 'ok' as const,
        payload: { nullOnly: () => 'null' as const, absentOnly: () => 'absent' as const },
        async *count({ input }) {
          try {
            for (let n = 1; input.to === undefined || n <= input.to; n++) {
              streams.produced++
              yield n
            }
          } finally {
            streams.finished++
          }
        },
        fail: {
          custom: () => {
            throw new PatchbayError('OUT_OF_STOCK', 'x', { data: { n: 1 } })
          },
          crash: () => {
            throw new Error('secret db password')
          },
        },
      },
    })
    const { port } = await this.server.listen({ port: 0, host: '127.0.0.1' })
    this.url = `ws://127.0.0.1:${port}`
    return this
  }

  /** Resolves once `count` held handlers are running. */
  heldArrived(count: number): Promise<void> {
    if (this.held.size >= count) return Promise.resolve()
    const waiter = deferred()
    this.arrivalWaiters.push({ count, done: waiter.resolve })
    return waiter.promise
  }

  /** Resolves once the held handler for `n` saw its signal abort. */
  abortedSignal(n: number): Promise<void> {
    if (this.aborted.has(n)) return Promise.resolve()
    const waiter = deferred()
    this.abortWaiters.set(n, waiter.resolve)
    return waiter.promise
  }

  release(n: number): void {
    this.held.get(n)?.()
  }

  async close(): Promise<void> {
    for (const release of this.held.values()) release()
    if (this.closed) return
    this.closed = true
    await this.server.close()
  }
}

export type Message = Record<string, unknown>
export interface CloseEvent {
  code: number
  reason: string
}

/** A raw WebSocket speaking hand-made frames. */
export class RawClient {
  private readonly frames: Message[] = []
  private readonly bytes: Buffer[] = []
  private cursor = 0
  private waiters: (() => void)[] = []
  private closeEvent: CloseEvent | undefined
  /** Set when the server sent a frame of the wrong kind or one that does not decode. */
  protocolError: string | undefined
  readonly closed: Promise<CloseEvent>

  constructor(
    readonly ws: WebSocket,
    readonly encoding: Encoding,
  ) {
    ws.on('error', () => {})
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const expectBinary = encoding === 'msgpack'
      if (isBinary !== expectBinary) this.protocolError = `server sent a ${isBinary ? 'binary' : 'text'} frame under ${encoding}`
      this.bytes.push(data)
      try {
        this.frames.push(fromWire(isBinary ? unpack(data) : JSON.parse(data.toString('utf8'))) as Message)
      } catch (error) {
        this.protocolError = `server frame does not decode: ${String(error)}`
      }
      this.wake()
    })
    this.closed = new Promise((resolve) => {
      ws.once('close', (code: number, reason: Buffer) => {
        this.closeEvent = { code, reason: reason.toString('utf8') }
        resolve(this.closeEvent)
        this.wake()
      })
    })
  }

  private wake(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const wake of waiters) wake()
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN
  }

  /** Every frame received so far. */
  get received(): readonly Message[] {
    return this.frames
  }

  /** The bytes of every frame received so far, as they came off the wire (text frames too). */
  get receivedBytes(): readonly Buffer[] {
    return this.bytes
  }

  /** Sends a message in the connection's encoding. */
  send(message: unknown): void {
    this.ws.send(encode(this.encoding, message), { binary: this.encoding === 'msgpack' })
  }

  /** Sends text or bytes as they are, in a frame of the given kind. */
  sendRaw(data: string | Uint8Array, binary: boolean): void {
    this.ws.send(data, { binary })
  }

  /** The n-th frame received (0-based), waiting for it; rejects if the socket closes first. */
  async nth(index: number): Promise<Message> {
    for (;;) {
      if (this.protocolError !== undefined) throw new Error(this.protocolError)
      const frame = this.frames[index]
      if (frame !== undefined) return frame
      if (this.closeEvent !== undefined) {
        throw new Error(`closed ${this.closeEvent.code} (${this.closeEvent.reason}) before frame ${index}`)
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
  }

  /** The next frame not yet taken by `next`. */
  async next(): Promise<Message> {
    const frame = await this.nth(this.cursor)
    this.cursor++
    return frame
  }

  /** The next `count` frames. */
  async take(count: number): Promise<Message[]> {
    const frames: Message[] = []
    for (let i = 0; i < count; i++) frames.push(await this.next())
    return frames
  }

  /** A call, then its answer (the next frame). */
  async call(id: number, path: string, input?: unknown): Promise<Message> {
    this.send(input === undefined ? { t: 'call', id, path } : { t: 'call', id, path, input })
    return this.next()
  }

  /** Waits for the close and checks its code (and, if given, that the reason matches). */
  async expectClose(code: number, reason?: RegExp): Promise<CloseEvent> {
    const event = await this.closed
    expect(event.code, `close reason: ${event.reason}`).toBe(code)
    if (reason !== undefined) expect(event.reason).toMatch(reason)
    // Nothing was sent before the close.
    expect(this.frames.slice(this.cursor)).toEqual([])
    return event
  }
}

export interface ConnectOptions {
  /** Subprotocols to offer; by default the one for the encoding. */
  protocols?: string[]
  headers?: Record<string, string>
  /** Whether the socket answers the server's WebSocket pings (default true, as `ws` does). */
  autoPong?: boolean
}

/** Opens a raw socket; resolves once open. */
export function connectRaw(url: string, encoding: Encoding, options: ConnectOptions = {}): Promise<RawClient> {
  const ws = new WebSocket(url, options.protocols ?? [PROTOCOL[encoding]], { headers: options.headers ?? {}, autoPong: options.autoPong ?? true })
  const client = new RawClient(ws, encoding)
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client))
    ws.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused with ${response.statusCode}`)))
    ws.once('error', reject)
  })
}

export interface Refusal {
  status: number
  body: string
}

/** Attempts an upgrade that the server must refuse; resolves with the HTTP status and body. */
export function refusedUpgrade(url: string, protocols: string[], headers: Record<string, string> = {}): Promise<Refusal> {
  const ws = new WebSocket(url, protocols, { headers })
  ws.on('error', () => {})
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.terminate()
      reject(new Error(`the upgrade was accepted with ${ws.protocol || 'no subprotocol'}`))
    })
    ws.once('unexpected-response', (request, response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (body += chunk))
      response.on('end', () => {
        request.destroy()
        resolve({ status: response.statusCode ?? 0, body })
      })
    })
  })
}

/**
 * One describe block's world: servers started by the test (the first in beforeEach), each
 * with a bystander raw client opened right after it, and every socket the test opened.
 * `verify` (in afterEach) asserts every bystander of a still-running server is served.
 */
export class Harness {
  readonly servers: { server: TestServer; bystander: RawClient }[] = []
  private readonly sockets: RawClient[] = []
  private bystanderCalls = 0

  constructor(readonly encoding: Encoding) {}

  /** The first server started. */
  get main(): TestServer {
    const first = this.servers[0]
    if (first === undefined) throw new Error('no server started')
    return first.server
  }

  async start(setup: ServerSetup = {}): Promise<TestServer> {
    const server = await new TestServer().start(setup)
    const encodings = setup.encodings ?? ENCODINGS
    const bystanderEncoding = encodings.includes(this.encoding) ? this.encoding : 'json'
    const bystander = await connectRaw(server.url, bystanderEncoding)
    this.servers.push({ server, bystander })
    return server
  }

  /** Opens a raw client to `server` (the main one by default), closed after the test. */
  async open(server: TestServer = this.main, options: ConnectOptions & { query?: string } = {}): Promise<RawClient> {
    const client = await connectRaw(server.url + (options.query ?? ''), this.encoding, options)
    this.sockets.push(client)
    return client
  }

  /** Asserts that every running server's bystander still gets a correct math.add result. */
  async verify(): Promise<void> {
    for (const { server, bystander } of this.servers) {
      if (server.closed) continue
      await expectServed(bystander, 1_000_000 + this.bystanderCalls++)
    }
  }

  async cleanup(): Promise<void> {
    for (const client of this.sockets.splice(0)) client.ws.terminate()
    for (const { server, bystander } of this.servers.splice(0)) {
      bystander.ws.terminate()
      await server.close()
    }
  }
}

/**
 * Gives the calling describe block a harness: before each test it starts the main server
 * (with `setup`); after each test it verifies the bystanders, then closes every socket and
 * server the test opened. Returns the block's harness; `h.main`, `h.open()` and `h.start()`
 * act on the current test's servers.
 */
export function useHarness(encoding: Encoding, setup: ServerSetup = {}): Harness {
  const h = new Harness(encoding)
  beforeEach(async () => {
    await h.start(setup)
  })
  afterEach(async () => {
    try {
      await h.verify()
    } finally {
      await h.cleanup()
    }
  })
  return h
}

/**
 * Sends a ping and collects every frame that arrives before its pong: all the server sent
 * before it read the ping (frames of one connection arrive in order, §10).
 */
export async function roundTrip(client: RawClient): Promise<Message[]> {
  client.send({ t: 'ping' })
  const frames: Message[] = []
  for (;;) {
    const frame = await client.next()
    if (frame.t === 'pong') return frames
    frames.push(frame)
  }
}

/** Asserts that `client` is open and answers math.add correctly under call id `id`. */
export async function expectServed(client: RawClient, id: number): Promise<void> {
  expect(client.isOpen, 'connection still open').toBe(true)
  const a = id % 1000
  expect(await client.call(id, 'math.add', { a, b: 1 })).toEqual({ t: 'result', id, output: a + 1 })
}

/** An array nested `depth` deep around `inner`. */
export function nested(depth: number, inner: unknown = 0): unknown {
  let value: unknown = inner
  for (let i = 0; i < depth; i++) value = [value]
  return value
}

/** True if something polluted Object.prototype. */
export function prototypePolluted(): boolean {
  return (({}) as Record<string, unknown>).polluted !== undefined || Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')
}
