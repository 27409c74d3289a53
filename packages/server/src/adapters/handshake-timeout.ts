/**
 * `handshakeTimeout` for the part of a handshake before the upgrade request is complete
 * (docs/protocol.md §9.1). Node checks an http.Server's `headersTimeout` only every
 * `connectionsCheckingInterval` (30 s by default), so a peer that trickles its request one
 * byte at a time, or sends nothing, would keep its socket that long whatever the option
 * says. Here every new socket gets a timer of its own instead.
 */
import type { Server as HttpServer } from 'node:http'
import type { Socket } from 'node:net'
import { Server as TlsServer } from 'node:tls'

/** How a guard treats the sockets of its server. */
export type GuardMode =
  /**
   * The server made by `listen()`: every socket is ours, and one that is not a WebSocket
   * session `handshakeTimeout` after it connected is closed, whatever it sent meanwhile.
   */
  | 'own'
  /**
   * A user's server (`attach()`): only the first request's headers are timed. Once a plain
   * HTTP request's headers are in, the socket is the user's business and is never touched.
   */
  | 'shared'

/** A guard on one http.Server's new sockets. */
export interface HandshakeGuard {
  /** Sockets of this server in their header phase now (timed, not yet upgraded). */
  readonly pending: number
  /**
   * The upgrade request on `socket` is complete: stops its timer and returns the deadline
   * (epoch ms) the rest of its handshake must meet, or undefined when the socket was not
   * timed from its start (a keep-alive socket that served plain requests first).
   */
  take(socket: object): number | undefined
}

/** A socket in its header phase: its timer, and the listener that stops it if the socket closes first. */
interface Timed {
  readonly timer: ReturnType<typeof setTimeout>
  readonly deadline: number
  readonly socket: Socket
  readonly closed: () => void
}

/** The answer Node itself writes when its own headersTimeout fires. */
const TIMED_OUT = 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n'
const BUSY_BODY = 'Too many handshakes in progress'
const BUSY = `HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${BUSY_BODY.length}\r\n\r\n${BUSY_BODY}`

/** What a guard tells its adapter. */
export interface GuardHooks {
  /** A socket was dropped for not completing its request in time. */
  timedOut(): void
  /**
   * Asked for every new socket of an `own` server: false refuses it at once with 503 (too
   * many handshakes in progress). A shared server's sockets are never refused here: they
   * may be the application's plain requests.
   */
  admit(): boolean
  /** A socket was refused because admit() said no. */
  refused(): void
}

/**
 * Times every new socket of `server` from its connection (a TLS server: from the end of its
 * TLS handshake, which the server's own `handshakeTimeout` bounds): a socket still without a
 * complete upgrade request `timeout` ms later gets a 408 and is destroyed. Timers are exact
 * (not polled), so the bound holds within timer latency.
 */
export function guardHandshakes(server: HttpServer, timeout: number, mode: GuardMode, hooks: GuardHooks): HandshakeGuard {
  const timers = new WeakMap<object, Timed>()
  let pending = 0
  const stop = (socket: object): void => {
    const entry = timers.get(socket)
    if (entry === undefined) return
    clearTimeout(entry.timer)
    timers.delete(socket)
    pending--
    // An upgraded socket lives on as a WebSocket: a 'close' listener left behind would keep
    // a once-wrapper and its closure (~250 bytes) alive for every idle connection.
    entry.socket.off('close', entry.closed)
  }
  const start = (socket: Socket): void => {
    if (mode === 'own' && !hooks.admit()) {
      hooks.refused()
      socket.end(BUSY)
      // Half-open sockets (allowHalfOpen) would wait for the peer's FIN: drop it once written.
      socket.once('finish', () => socket.destroy())
      return
    }
    pending++
    const timer = setTimeout(() => {
      timers.delete(socket)
      pending--
      socket.off('close', closed)
      // Node frees the parser of a socket handed to an 'upgrade' or 'connect' listener:
      // then it is no longer in its header phase (another listener's, or ours, which has
      // its own timer).
      if (socket.destroyed || (socket as { parser?: unknown }).parser === null) return
      hooks.timedOut()
      // As Node's own headersTimeout does: answer unless a response was started, then drop.
      if (socket.writable && socket.bytesWritten === 0) socket.write(TIMED_OUT)
      socket.destroy()
    }, timeout)
    timer.unref()
    const closed = (): void => stop(socket)
    timers.set(socket, { timer, deadline: Date.now() + timeout, socket, closed })
    socket.once('close', closed)
  }
  server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', start)
  // A shared server's plain requests are the user's: their sockets are timed no further.
  if (mode === 'shared') server.on('request', (request: { socket: object }) => stop(request.socket))
  return {
    get pending() {
      return pending
    },
    take(socket) {
      const deadline = timers.get(socket)?.deadline
      stop(socket)
      return deadline
    },
  }
}
