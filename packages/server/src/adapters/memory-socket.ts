/**
 * The client's side of an in-memory connection (memory.ts): the part of the WebSocket API
 * `@patchbay/client` uses, with the handshake of docs/protocol.md §2 (subprotocol, token,
 * refusals seen as 1006, as a browser sees them). Runtime-free.
 */
import { CloseCode, negotiateSubprotocol, tokenFromSubprotocols } from '@patchbay/core'
import { codecForSubprotocol } from '../codecs.js'
import type { SessionHost } from '../session-host.js'
import { CLOSED, CLOSING, CONNECTING, MemoryConnection, OPEN, sizeOf, type MemoryAdapterOptions, type MemoryCloseEvent } from './memory.js'
import { later } from './pipe.js'

type Listener = ((event: never) => void) | null

/**
 * The client's side: the part of the WebSocket API `@patchbay/client` uses. A class per pair
 * ({@link createMemoryWebSocket}) binds it to its server.
 */
export class MemoryWebSocket {
  static readonly CONNECTING = CONNECTING
  static readonly OPEN = OPEN
  static readonly CLOSING = CLOSING
  static readonly CLOSED = CLOSED
  readonly CONNECTING = CONNECTING
  readonly OPEN = OPEN
  readonly CLOSING = CLOSING
  readonly CLOSED = CLOSED
  readyState: number = CONNECTING
  protocol = ''
  binaryType = 'arraybuffer'
  onopen: Listener = null
  onmessage: Listener = null
  onclose: Listener = null
  onerror: Listener = null
  /** Set once the server accepted the connection. */
  private connection: MemoryConnection | undefined

  constructor(
    readonly url: string,
    protocols: string | readonly string[] | undefined,
    host: SessionHost,
    options: MemoryAdapterOptions,
  ) {
    const offered = protocols === undefined ? [] : typeof protocols === 'string' ? [protocols] : [...protocols]
    later(() => void this.handshake(host, options, offered))
  }

  get bufferedAmount(): number {
    return this.connection?.up.bufferedAmount ?? 0
  }

  send(data: string | ArrayBufferView): void {
    if (this.readyState === CONNECTING) throw new Error('WebSocket is not open: readyState 0 (CONNECTING)')
    const connection = this.connection
    if (this.readyState !== OPEN || connection === undefined) return
    // Copied, as a socket's write would: the client may reuse its buffer.
    const frame = typeof data === 'string' ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice()
    connection.up.push({ kind: 'frame', data: frame, size: sizeOf(frame) })
  }

  close(code: number = CloseCode.NO_STATUS, reason = ''): void {
    if (this.readyState === CLOSING || this.readyState === CLOSED) return
    this.readyState = CLOSING
    // Closed while connecting: the attempt fails (handshake() sees CLOSING), as in a browser.
    this.connection?.closeFromClient(code, reason)
  }

  /** A frame from the server. */
  receive(data: string | ArrayBuffer): void {
    if (this.readyState === CLOSED) return
    this.emit('onmessage', { type: 'message', data })
  }

  /** The connection has closed. */
  ended(event: MemoryCloseEvent): void {
    if (this.readyState === CLOSED) return
    this.readyState = CLOSED
    if (!event.wasClean) this.emit('onerror', { type: 'error' })
    this.emit('onclose', { type: 'close', ...event })
  }

  private async handshake(host: SessionHost, options: MemoryAdapterOptions, offered: string[]): Promise<void> {
    const { encodings, maxConnections } = host.options
    const subprotocol = negotiateSubprotocol(offered, encodings)
    const codec = subprotocol === undefined ? undefined : codecForSubprotocol(subprotocol)
    // A refused upgrade (no shared subprotocol, shutting down, full): a browser learns only 1006.
    if (codec === undefined || subprotocol === undefined || host.closing || host.size >= maxConnections) return this.refused()
    let ctx: unknown
    try {
      const token = tokenFromSubprotocols(offered)
      ctx = await options.context({ url: this.url, subprotocols: offered, subprotocol, ...(token === undefined ? {} : { token }) })
    } catch {
      return this.refused()
    }
    if (this.readyState !== CONNECTING || host.closing) return this.refused()
    const connection = new MemoryConnection(host, this, codec, ctx, options.networkBuffer)
    this.connection = connection
    this.protocol = subprotocol
    this.readyState = OPEN
    connection.start()
    options.opened(connection)
    this.emit('onopen', { type: 'open' })
  }

  private refused(): void {
    this.readyState = CLOSED
    this.emit('onerror', { type: 'error' })
    this.emit('onclose', { type: 'close', code: CloseCode.ABNORMAL, reason: '', wasClean: false })
  }

  private emit(name: 'onopen' | 'onmessage' | 'onclose' | 'onerror', event: object): void {
    ;(this[name] as ((event: object) => void) | null)?.(event)
  }
}
