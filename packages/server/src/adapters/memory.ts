/**
 * The in-memory adapter: a WebSocket class for `@patchbay/client` whose connections run the
 * server's real sessions (session-host.ts, as adapters/ws.ts does for sockets) through two
 * {@link Pipe}s, with no port, no HTTP and no `ws`. Subprotocols are negotiated as in
 * docs/protocol.md §2, frames keep their kind (text for JSON, binary for msgpack), close codes
 * and reasons travel both ways, and a stalled reader makes the server's buffer grow, so
 * backpressure (§14) behaves as on a socket. This file holds a connection and the server's
 * side of it; memory-socket.ts the client's. Runtime-free.
 */
import { CloseCode, type Codec } from '@patchbay/core'
import type { Session } from '../connection.js'
import { connectionId } from '../connection-id.js'
import type { ClosableTransport, SessionHost } from '../session-host.js'
import type { MaybePromise } from '../types.js'
import type { MemoryWebSocket } from './memory-socket.js'
import { Pipe, type PipeItem } from './pipe.js'

/** What the pair's `context` function sees of a connection attempt (the HTTP request has no place here). */
export interface MemoryHandshake {
  /** The URL the client was given. */
  readonly url: string
  /** The subprotocols the client offered, in order. */
  readonly subprotocols: readonly string[]
  /** The subprotocol the server chose. */
  readonly subprotocol: string
  /** The credential the client offered as a `patchbay.auth.*` subprotocol (its `token` option), decoded. */
  readonly token?: string
}

/** How connections of an in-memory pair are made. */
export interface MemoryAdapterOptions {
  /** Makes each connection's context; a throw or rejection refuses the connection (the client sees 1006, as a browser does). */
  readonly context: (handshake: MemoryHandshake) => MaybePromise<unknown>
  /** Bytes each direction holds for a reader that does not read before the writer's buffer grows. */
  readonly networkBuffer: number
  /** Told of each connection once it is open. */
  readonly opened: (connection: MemoryConnection) => void
}

/** How an in-memory connection ended, as its client saw it. */
export interface MemoryCloseEvent {
  readonly code: number
  readonly reason: string
  /** False when it was dropped (`drop()`, or terminated by the server's closeTimeout): no close frame. */
  readonly wasClean: boolean
}

/** The WebSocket API's readyState values. */
export const CONNECTING = 0
export const OPEN = 1
export const CLOSING = 2
export const CLOSED = 3

const utf8 = new TextDecoder()

/** The size a frame counts for: bytes, or a string's length (as outbound.ts counts it). */
export function sizeOf(data: string | Uint8Array): number {
  return typeof data === 'string' ? data.length : data.byteLength
}

/** The bytes as an ArrayBuffer of their own (a Buffer may be a view into a shared pool). */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  const copy = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer ? bytes : new Uint8Array(bytes)
  return copy.buffer as ArrayBuffer
}

/** One connection of an in-memory pair: the test's handle on it. */
export class MemoryConnection {
  /** The server's connection id (`connection.id` in handlers, `server.connections()`). */
  readonly id: string
  /** The negotiated subprotocol. */
  readonly subprotocol: string
  /** Resolves when the connection has closed, with the code and reason its client saw. */
  readonly closed: Promise<MemoryCloseEvent>
  private resolveClosed!: (event: MemoryCloseEvent) => void
  /** Client to server. */
  readonly up: Pipe
  /** Server to client. */
  readonly down: Pipe
  session!: Session
  private serverClosed = false
  private clientClosed = false
  private terminateTimer: ReturnType<typeof setTimeout> | undefined
  private serverDone: Promise<void>
  private resolveServerDone!: () => void

  constructor(
    private readonly host: SessionHost,
    private readonly socket: MemoryWebSocket,
    private readonly codec: Codec,
    private readonly ctx: unknown,
    networkBuffer: number,
  ) {
    this.id = connectionId()
    this.subprotocol = codec.subprotocol
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve))
    this.serverDone = new Promise((resolve) => (this.resolveServerDone = resolve))
    this.up = new Pipe(networkBuffer, (item) => this.toServer(item))
    this.down = new Pipe(networkBuffer, (item) => this.toClient(item))
  }

  /** Opens the server's session for this connection. */
  start(): void {
    const transport = new MemoryTransport(this, this.codec.binary)
    this.session = this.host.accept(transport, this.codec, this.ctx, { id: this.id, encoding: this.codec.encoding }, undefined).session
  }

  /** `closing` from either side's close frame until the closing handshake is over. */
  get state(): 'open' | 'closing' | 'closed' {
    if (this.socket.readyState === CLOSED) return 'closed'
    return this.serverClosed || this.clientClosed ? 'closing' : 'open'
  }

  /** The client stops reading: the server's frames pile up in the network, then in its buffer. */
  stall(): void {
    this.down.stall()
  }

  /** The client reads again. */
  resume(): void {
    this.down.resume()
  }

  /** Bytes the server has buffered for this connection beyond what the network holds (its `bufferedAmount`). */
  get serverBufferedAmount(): number {
    return this.down.bufferedAmount
  }

  /** The connection is lost without a close frame (a cable pulled): 1006 on both sides. */
  drop(): void {
    this.terminate()
  }

  /** The server's shutdown: closes, and resolves once closed. */
  shutdown(code: number, reason: string): Promise<void> {
    this.closeFromServer(code, reason)
    return this.serverDone
  }

  /** The server starts the closing handshake: its close frame goes after what it sent before. */
  closeFromServer(code: number, reason: string): void {
    if (this.serverClosed) return
    this.serverClosed = true
    this.down.push({ kind: 'close', code, reason, size: 0 })
    // A peer that never reads the close frame is dropped after closeTimeout, as ws does.
    this.terminateTimer = setTimeout(() => this.terminate(), this.host.options.closeTimeout)
    // Like ws's own deadline: a test that leaves a stalled connection behind may still exit.
    ;(this.terminateTimer as { unref?: () => void }).unref?.()
  }

  /** The client starts the closing handshake. */
  closeFromClient(code: number, reason: string): void {
    if (this.clientClosed) return
    this.clientClosed = true
    this.up.push({ kind: 'close', code, reason, size: 0 })
  }

  private toServer(item: PipeItem): void {
    if (item.kind === 'frame') {
      if (!this.serverClosed) this.session.receive(item.data)
      return
    }
    // The client's close frame: the server answers with the same code, after what it sent.
    this.closeFromServer(item.code, item.reason)
  }

  private toClient(item: PipeItem): void {
    if (item.kind === 'frame') {
      const data = item.data
      // Text frames reach the client as strings, binary ones as an ArrayBuffer of its own.
      this.socket.receive(this.codec.binary ? ownBuffer(data as Uint8Array) : typeof data === 'string' ? data : utf8.decode(data))
      return
    }
    // The server's close frame (its own, or its answer to the client's): the handshake is over.
    this.finish(item.code, item.reason, true)
  }

  /** Ends both sides without a closing handshake. */
  private terminate(): void {
    this.finish(CloseCode.ABNORMAL, '', false)
  }

  private finish(code: number, reason: string, wasClean: boolean): void {
    if (this.socket.readyState === CLOSED) return
    clearTimeout(this.terminateTimer)
    this.serverClosed = this.clientClosed = true
    this.up.end()
    this.down.end()
    this.host.closed(this.session, this.ctx, code, reason)
    this.resolveServerDone()
    const event = { code, reason, wasClean }
    this.socket.ended(event)
    this.resolveClosed(event)
  }
}

/** The server's side of a {@link MemoryConnection}, as a session sees it. */
class MemoryTransport implements ClosableTransport {
  constructor(
    private readonly connection: MemoryConnection,
    private readonly binary: boolean,
  ) {}

  send(frame: string | Uint8Array): void {
    // A JSON topic event may come as its UTF-8 bytes: it is still a text frame (toClient).
    // Bytes are copied, as a socket's write would: the sender may reuse its buffer.
    const data = typeof frame === 'string' || !this.binary ? frame : new Uint8Array(frame)
    this.connection.down.push({ kind: 'frame', data, size: sizeOf(frame) })
  }

  close(code: number, reason: string): void {
    this.connection.closeFromServer(code, reason)
  }

  shutdown(code: number, reason: string): Promise<void> {
    return this.connection.shutdown(code, reason)
  }

  get bufferedAmount(): number {
    return this.connection.down.bufferedAmount
  }

  get bufferedFrames(): number {
    return this.connection.down.bufferedFrames
  }

  pause(): void {
    this.connection.up.stall()
  }

  resume(): void {
    this.connection.up.resume()
  }

  onceDrained(listener: () => void): void {
    this.connection.down.onceDrained(listener)
  }
}
