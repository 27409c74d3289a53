/**
 * What Node's `ws` offers beyond the browser's WebSocket: frames without a MessageEvent, and
 * what it can tell about a failed connection and a browser cannot: the system error
 * (ECONNREFUSED, ENOTFOUND…), the HTTP status and body of a refused upgrade, the subprotocol
 * the server answered (docs/guide/errors.md). Its own module, handed to the client as a
 * feature, because a browser never raises these events: `@patchbay/client` (what Node code
 * imports) passes it to every connection, and a browser bundle made with
 * `@patchbay/client/slim` leaves its ~2 KB out (docs/guide/bundling.md). So does corking the
 * socket, which only Node's net.Socket offers.
 */
import { ConnectionFailure, type ConnectionFailureDetails } from './connection-failure.js'

/** What every failure of a connection names. */
export type FailureBase = Pick<ConnectionFailureDetails, 'url' | 'offered' | 'answered'>

/**
 * How the diagnostics reach the connection they watch: the connection itself (connection.ts),
 * so that no adapter object is built for them in a browser bundle.
 */
export interface DiagnosticsSink {
  /** A frame as `ws` delivered it: text as a string, binary as bytes. */
  handleFrame(data: string | Uint8Array): void
  base(): FailureBase
  /** The subprotocol the server answered, set before `ws` checks it. */
  answered: string | undefined
  /** A specific reason for the attempt's end (the first one wins). */
  noteFailure(failure: ConnectionFailure | undefined): void
  /** The refused handshake has been read: end the attempt. */
  abortAttempt(): void
}

/** Diagnostics of a runtime that says why a connection failed (Node's `ws`). */
export interface Diagnostics {
  /** Listens to `ws`'s 'message', 'upgrade' and 'unexpected-response' events on `socket`. */
  watch(socket: NodeStyleEmitter, sink: DiagnosticsSink): void
  /** The failure an 'error' event's error names, if it names one. */
  ofError(error: unknown, base: FailureBase): ConnectionFailure | undefined
  /**
   * Sends through the open socket's net.Socket with a tick's writes corked into one syscall,
   * at most PIPELINE_FRAMES frames to a write; undefined when it has none to cork.
   */
  pipeline(socket: { send(frame: string | Uint8Array): void }): ((frame: string | Uint8Array) => void) | undefined
}

/** A stream whose writes can be held and then written at once (Node's net.Socket). */
export interface Corkable {
  cork(): void
  uncork(): void
}

/** The EventEmitter side of a `ws` socket that the diagnostics listen to. */
export interface NodeStyleEmitter {
  on(event: 'message', listener: (data: Uint8Array, isBinary: boolean) => void): void
  on(event: 'upgrade', listener: (response: HttpResponseLike) => void): void
  on(event: 'unexpected-response', listener: (request: unknown, response: HttpResponseLike) => void): void
}

/** The part of Node's http.IncomingMessage read from a refused upgrade (no Node types here). */
interface HttpResponseLike {
  readonly statusCode?: number
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  on(event: 'data', listener: (chunk: Uint8Array) => void): void
  on(event: 'end' | 'error' | 'aborted' | 'close', listener: () => void): void
}

/** The most of a refused upgrade's body kept (Patchbay's own refusals are one short line). */
export const MAX_REFUSAL_BODY = 1024

/**
 * Frames a tick's coalesced writes hold before they go to the socket. Written all at once at
 * the end of the tick, a burst of calls reaches the server as one batch, the server answers
 * it as one batch, and each side idles while the other works: a lock-step in which, on a VM,
 * every wake-up costs as much as handling a batch. Flushed every 16 frames, the server starts
 * on the first calls while the client is still making the rest. Measured with 64 calls in
 * flight (bench/, rpc-throughput, 2 vCPUs): 1.5–1.8× the calls per second, for four writes
 * per 64 calls instead of one. The server keeps one write per tick: there a flush every 16
 * frames cost fan-out and streams more CPU per message than it won. Browsers have no such
 * handle and batch on their own.
 */
export const PIPELINE_FRAMES = 16

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA'])
const SUBPROTOCOL_NAME = /\bpatchbay\.v\d+\.[A-Za-z0-9_-]+/g

/** Node's `ws`: every failure it can name. */
export const nodeDiagnostics: Diagnostics = {
  watch(socket, sink) {
    // `ws`'s own 'message' event hands over the frame as is (a Buffer for binary, with the
    // text/binary flag), sparing a MessageEvent and an ArrayBuffer copy per frame.
    socket.on('message', (data, isBinary) => sink.handleFrame(isBinary ? data : textOf(data)))
    socket.on('upgrade', (response) => {
      const answered = response.headers['sec-websocket-protocol']
      if (typeof answered === 'string') sink.answered = answered
    })
    // A listener here makes `ws` leave the refused handshake to us: read the status and the
    // start of the body, then abort it (the close event follows as before).
    socket.on('unexpected-response', (_request, response) => readRefusal(response, sink))
  },
  ofError: failureOfError,
  pipeline(socket) {
    // `_socket` is ws's private handle (set before 'open'): duck-typed and optional.
    const raw = (socket as { _socket?: Partial<Corkable> })._socket
    if (typeof raw?.cork !== 'function' || typeof raw.uncork !== 'function') return undefined
    const corkable = raw as Corkable
    let corked = false
    /** Frames written since the socket was corked. */
    let frames = 0
    const uncork = (): void => {
      if (!corked) return
      corked = false
      frames = 0
      corkable.uncork()
    }
    return (frame) => {
      if (!corked) {
        corked = true
        corkable.cork()
        queueMicrotask(uncork)
      }
      socket.send(frame)
      if (++frames >= PIPELINE_FRAMES) uncork()
    }
  },
}

const utf8 = new TextDecoder()
/** Text of a text frame delivered as bytes (Node's Buffer has a faster own toString). */
function textOf(data: Uint8Array): string {
  const withToString = data as Uint8Array & { toString(encoding?: string): string }
  return typeof (data as { utf8Slice?: unknown }).utf8Slice === 'function' ? withToString.toString('utf8') : utf8.decode(data)
}

/** The failure of an error the runtime raised during an attempt (Node's `ws`), if it says anything. */
export function failureOfError(error: unknown, base: FailureBase): ConnectionFailure | undefined {
  if (!(error instanceof Error)) return undefined
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) {
    const details = { ...base, systemCode: code, error }
    if (code === 'ECONNREFUSED') {
      return new ConnectionFailure({ ...details, kind: 'refused' }, `${error.message}: nothing accepts connections at ${base.url} (is the server running, on that host and port?)`)
    }
    if (DNS_CODES.has(code)) return new ConnectionFailure({ ...details, kind: 'dns' }, `${error.message}: the host name in ${base.url} does not resolve`)
    return new ConnectionFailure({ ...details, kind: 'network' }, error.message)
  }
  // `ws`'s own handshake checks: "Server sent an invalid subprotocol", "... no subprotocol".
  if (/subprotocol/i.test(error.message)) return new ConnectionFailure({ ...base, kind: 'subprotocol', error })
  return new ConnectionFailure({ ...base, kind: 'network', error }, error.message)
}

/** The failure of an upgrade the server answered with an HTTP status instead of 101. */
export function failureOfRefusal(status: number, body: string, base: FailureBase): ConnectionFailure {
  const named = [...new Set(body.match(SUBPROTOCOL_NAME) ?? [])]
  const http = `HTTP ${status}${body.trim() === '' ? '' : `: ${body.trim()}`}`
  // Patchbay answers 400 naming what it speaks when no offered subprotocol fits (§2).
  if (status === 400 && (named.length > 0 || /subprotocol/i.test(body))) {
    const server = named.length > 0 ? `the server speaks ${named.join(', ')}` : 'the server answered none of them'
    return new ConnectionFailure(
      { ...base, kind: 'subprotocol', status, body, serverSubprotocols: named.length > 0 ? named : undefined },
      `no shared subprotocol (a protocol version mismatch, not retried): the client offered ${base.offered.join(', ')}; ${server} (${http})`,
    )
  }
  return new ConnectionFailure({ ...base, kind: 'http', status, body }, `the server refused the WebSocket upgrade with ${http}`)
}

/** Reads a refused upgrade's status and up to MAX_REFUSAL_BODY bytes of its body, then aborts it. */
function readRefusal(response: HttpResponseLike, sink: DiagnosticsSink): void {
  const status = response.statusCode ?? 0
  const decoder = new TextDecoder()
  let body = ''
  let bytes = 0
  let done = false
  const finish = (): void => {
    if (done) return
    done = true
    sink.noteFailure(failureOfRefusal(status, body + decoder.decode(), sink.base()))
    sink.abortAttempt()
  }
  response.on('data', (chunk) => {
    if (done) return
    const room = MAX_REFUSAL_BODY - bytes
    bytes += chunk.byteLength
    body += decoder.decode(chunk.byteLength > room ? chunk.subarray(0, room) : chunk, { stream: true })
    if (bytes >= MAX_REFUSAL_BODY) finish()
  })
  response.on('end', finish)
  response.on('error', finish)
  response.on('aborted', finish)
  response.on('close', finish)
}
