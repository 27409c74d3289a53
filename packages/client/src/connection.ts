/**
 * Owns one socket: opens it with the offered subprotocols, checks what was negotiated,
 * decodes and validates frames into server messages, encodes and sends client messages,
 * and reports state changes. Reconnecting is a later layer on top of this one.
 */
import {
  authSubprotocol,
  hasProtoKey,
  mayHoldProtoKey,
  parseServerMessage,
  ProtocolViolation,
  truncateCloseReason,
  turnNow,
  type Codec,
  type Encoding,
  type Frame,
  type ServerMessage,
} from '@patchbay/core'
import { CLOSE_ABNORMAL, CLOSE_BAD_REQUEST, CLOSE_NORMAL, CLOSE_SUBPROTOCOL_NOT_ACCEPTABLE } from './codes.js'
import { ConnectionFailure } from './connection-failure.js'
import type { DiagnosticsSink, NodeStyleEmitter } from './node-diagnostics.js'
import type { ResolvedClientOptions, WebSocketLike } from './options.js'
import type { Wire } from './request-manager.js'

/** Connection states, named as the WebSocket API names them. */
export type ConnectionState = 'connecting' | 'open' | 'closing' | 'closed'

/** What the connection tells its owner. */
export interface ConnectionEvents {
  open(): void
  message(message: ServerMessage): void
  /**
   * `opened` is false when the socket never opened (a refused or failed handshake); `failure`
   * says what is known of why it ended.
   */
  close(code: number, reason: string, opened: boolean, failure: ConnectionFailure): void
  state(state: ConnectionState, code?: number, reason?: string): void
}

/**
 * One WebSocket and the protocol rules of its client side. It is also what Node's diagnostics
 * report to (DiagnosticsSink), so that a browser bundle, which leaves them out, carries no
 * adapter for them.
 */
export class Connection implements DiagnosticsSink {
  state: ConnectionState = 'connecting'
  codec: Codec | undefined
  private readonly socket: WebSocketLike
  private opened = false
  /**
   * Hands a frame to the socket: `socket.send`, or in Node with `ws` the same with a tick's
   * writes coalesced (node-diagnostics.ts, PIPELINE_FRAMES). Chosen once the socket is open.
   */
  private write: (frame: Frame) => void = () => {}
  /**
   * One timer does every job: the connection attempt's deadline until open, then the next
   * ping when idle, then the deadline for an answer.
   */
  private liveness: ReturnType<typeof setTimeout> | undefined
  /** When the ping now awaiting an answer was sent (epoch ms), or undefined. */
  private pingSentAt: number | undefined
  /**
   * When the last frame arrived (epoch ms). A number, not a timer: frames cost no timer work.
   * Read with turnNow(): the frames of one read chunk arrive together, so the first read of a
   * run is their arrival time and the rest of the chunk reuses it.
   */
  private lastHeard = 0
  /** The first specific reason learned for the attempt's (or connection's) end. */
  private failure: ConnectionFailure | undefined
  /** The subprotocols offered (the credential left out) and the one the server answered. */
  private readonly offered: string[]
  answered: string | undefined

  constructor(
    private readonly options: ResolvedClientOptions,
    token: string | undefined,
    private readonly events: ConnectionEvents,
  ) {
    const offered: string[] = options.codecs.map((codec) => codec.subprotocol)
    this.offered = offered
    // The credential rides as one more subprotocol (browsers cannot set headers, §2.1); the
    // server never selects it, and `offered` (what we accept back) leaves it out.
    const protocols = token === undefined ? offered : [...offered, authSubprotocol(token)]
    this.socket = new options.WebSocket(options.url, protocols)
    this.socket.onopen = () => this.handleOpen(offered)
    const emitter = this.socket as unknown as Partial<NodeStyleEmitter>
    const node = options.diagnostics
    if (node !== undefined && typeof emitter.on === 'function') {
      // Node's `ws` (node-diagnostics.ts; left out of browser bundles): frames as they are,
      // and what it can tell of a failed attempt.
      node.watch(emitter as NodeStyleEmitter, this)
    } else {
      this.socket.binaryType = 'arraybuffer'
      this.socket.onmessage = (event: { data: unknown }) => this.handleFrame(event.data)
    }
    this.socket.onclose = (event: { code: number; reason: string }) => this.handleClose(event.code, event.reason)
    // An error is always followed by a close event, which does the work; in Node it says why.
    this.socket.onerror = (event: { error?: unknown }) => {
      this.noteFailure(this.options.diagnostics?.ofError(event.error, this.base()))
    }
    if (options.connectTimeout > 0) {
      // A route that accepts TCP and never answers the upgrade would hold the attempt (and
      // every call waiting for it) forever: fail it like any other failed attempt, so the
      // owner's backoff decides what comes next.
      this.liveness = setTimeout(this.onConnectTimeout, options.connectTimeout)
    }
  }

  private readonly onConnectTimeout = (): void => {
    if (this.state !== 'connecting') return
    const reason = `No answer to the WebSocket upgrade within ${this.options.connectTimeout} ms (connectTimeout)`
    this.noteFailure(new ConnectionFailure({ ...this.base(), kind: 'timeout', closeReason: reason }))
    this.abandon('The connection attempt timed out')
  }

  /** The negotiated encoding, once open. */
  get encoding(): Encoding | undefined {
    return this.codec?.encoding
  }

  /** Bytes queued in the socket and not yet handed to the network. */
  get bufferedAmount(): number {
    return this.socket.bufferedAmount
  }

  /** Encodes once and sends. Returns false if the socket is not open or the message would not encode. */
  send(message: Wire): boolean {
    if (this.state !== 'open' || this.codec === undefined) return false
    this.write(this.codec.encode(message))
    return true
  }

  /** Starts the closing handshake. */
  close(code: number = CLOSE_NORMAL, reason = ''): void {
    if (this.state === 'closing' || this.state === 'closed') return
    // The client closes with another code only for what the server broke (§2, §3, §12, §15).
    if (code !== CLOSE_NORMAL) this.options.log.warn?.({ code, reason }, 'protocol violation')
    this.setState('closing')
    this.socket.close(code, truncateCloseReason(reason))
  }

  private handleOpen(offered: string[]): void {
    const codec = offered.includes(this.socket.protocol) ? this.options.codecs.find((candidate) => candidate.subprotocol === this.socket.protocol) : undefined
    if (codec === undefined) {
      // The server did not answer with a subprotocol we offered: we cannot speak to it (§2).
      this.answered = this.socket.protocol
      this.noteFailure(new ConnectionFailure({ ...this.base(), kind: 'subprotocol' }))
      this.close(CLOSE_SUBPROTOCOL_NOT_ACCEPTABLE, 'No Patchbay subprotocol was negotiated')
      return
    }
    clearTimeout(this.liveness)
    this.codec = codec
    const socket = this.socket
    this.write = this.options.diagnostics?.pipeline(socket) ?? ((frame) => socket.send(frame))
    this.opened = true
    this.setState('open')
    this.lastHeard = Date.now()
    this.armLiveness(this.options.pingInterval)
    this.events.open()
  }

  /**
   * Dead-server detection (§7): `pingInterval` after the last frame, send a ping; if nothing
   * at all arrives within `pongTimeout`, the server is gone (a frozen process, a dropped
   * route) and waiting for TCP to notice could take minutes. The timer is armed for what is
   * left of the interval since the last frame, not a whole interval from when it was last
   * armed: a silent server is noticed within `pingInterval + pongTimeout` of its last frame,
   * never up to twice the interval.
   */
  private armLiveness(delay: number): void {
    if (this.options.pingInterval <= 0) return
    this.pingSentAt = undefined
    this.liveness = setTimeout(this.onLiveness, Math.max(0, delay))
  }

  private readonly onLiveness = (): void => {
    if (this.state !== 'open') return
    const now = Date.now()
    if (this.pingSentAt !== undefined && this.lastHeard < this.pingSentAt) {
      const reason = `The server did not answer a ping within ${this.options.pongTimeout} ms (pongTimeout)`
      this.noteFailure(new ConnectionFailure({ ...this.base(), kind: 'timeout', closeReason: reason }))
      this.abandon('The server did not answer a ping')
      return
    }
    const quiet = now - this.lastHeard
    if (quiet < this.options.pingInterval) {
      this.armLiveness(this.options.pingInterval - quiet)
      return
    }
    this.pingSentAt = now
    this.send([5])
    this.liveness = setTimeout(this.onLiveness, this.options.pongTimeout)
  }

  /**
   * Gives up on a silent socket (or an attempt that never opened) at once: no closing
   * handshake can complete with a dead peer.
   */
  private abandon(reason: string): void {
    this.socket.onopen = null
    this.socket.onmessage = null
    this.socket.onclose = null
    ;(this.socket as { onerror: (() => void) | null }).onerror = () => {}
    try {
      this.socket.close(CLOSE_NORMAL, reason)
    } catch {
      // Already closing: nothing more to do with this socket.
    }
    this.handleClose(CLOSE_ABNORMAL, reason)
  }

  handleFrame(data: unknown): void {
    if (this.codec === undefined || this.state !== 'open') return
    this.lastHeard = turnNow()
    let decoded: unknown
    try {
      decoded = this.codec.decode(data instanceof ArrayBuffer ? new Uint8Array(data) : (data as Frame))
    } catch {
      this.close(CLOSE_BAD_REQUEST, 'Server sent a frame that does not decode')
      return
    }
    // JSON.parse makes a `__proto__` key an own property, which application code that merges
    // a payload (Object.assign, a deep merge) would take as a prototype: refused (§9). A text
    // frame that cannot spell one skips the walk; MessagePack cannot make one (msgpackr reads
    // the key as `__proto_`). Payloads are otherwise handed over as decoded (parseServerMessage).
    if (typeof data === 'string' && mayHoldProtoKey(data) && hasProtoKey(decoded)) {
      this.close(CLOSE_BAD_REQUEST, 'Server sent a forbidden key "__proto__"')
      return
    }
    const parsed = parseServerMessage(decoded, this.options)
    if (parsed instanceof ProtocolViolation) {
      this.close(CLOSE_BAD_REQUEST, parsed.reason)
      return
    }
    if (parsed.t === 'ping') {
      this.send([6])
      return
    }
    this.events.message(parsed)
  }

  private handleClose(code: number, reason: string): void {
    if (this.state === 'closed') return
    clearTimeout(this.liveness)
    let failure = this.failure
    if (failure?.kind === 'subprotocol' && !this.opened) {
      // No shared subprotocol: a version mismatch that no retry fixes, reported as the close
      // code that says so (§2, §8), whatever the handshake's own end looked like (1006).
      code = CLOSE_SUBPROTOCOL_NOT_ACCEPTABLE
      reason = 'No shared subprotocol'
    }
    if (failure === undefined) {
      // Nothing more specific: a browser's failed attempt (it says nothing), or a close.
      failure = new ConnectionFailure({ ...this.base(), kind: this.opened ? 'closed' : 'unknown', closeCode: code, closeReason: reason })
    }
    this.setState('closed', code, reason)
    this.events.close(code, reason, this.opened, failure)
  }

  /** The refused handshake has been read (Node): end the attempt. */
  abortAttempt(): void {
    if (this.state === 'connecting') this.socket.close()
  }

  /** What every failure of this connection names. */
  base(): { url: string; offered: string[]; answered: string | undefined } {
    return { url: this.options.url, offered: this.offered, answered: this.answered }
  }

  /** Keeps the first specific reason: what follows it (ws's own abort) only repeats it less well. */
  noteFailure(failure: ConnectionFailure | undefined): void {
    this.failure ??= failure
  }

  private setState(state: ConnectionState, code?: number, reason?: string): void {
    this.state = state
    this.events.state(state, code, reason)
  }
}
