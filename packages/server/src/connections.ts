/**
 * Reaching one connection from the server side (socket.io's `io.sockets.sockets` and
 * `socket.disconnect()`): the open connections by id with their context, and closing one with
 * a code and a reason. Runtime-free: the adapter registers each session it opens.
 */
import { CloseCode, type Encoding } from '@patchbay/core'
import type { Session } from './connection.js'

/** One open connection, as `server.connections()` lists it. */
export interface ConnectionDetails<TCtx = unknown> {
  /** The connection's id, as handlers see it in `connection.id`. */
  readonly id: string
  /** The negotiated encoding. */
  readonly encoding: Encoding
  /** The context the `context` hook made for it at the handshake. */
  readonly ctx: TCtx
  /** The peer's IP address as the socket saw it at the handshake (a proxy's, behind one). */
  readonly remoteAddress: string | undefined
  /** When the connection opened (epoch milliseconds). */
  readonly openedAt: number
}

/**
 * One open connection as the registry lists it. The adapter that opened it keeps the same
 * record for the log lines of its end: one object per connection, not one per concern.
 */
export interface OpenConnection {
  readonly session: Session
  readonly ctx: unknown
  readonly remoteAddress: string | undefined
  /** When it opened (epoch milliseconds). */
  readonly openedAt: number
}

/** Patchbay's own close codes in 4000–4999: the HTTP mirror, 4400–4599, is kept for Patchbay. */
const OWN_RANGE = { from: 4400, to: 4599 }

/** Codes outside the application range that `disconnect` may send, for what they mean (§8). */
const KICK_CODES = new Set<number>([CloseCode.NORMAL, CloseCode.GOING_AWAY, CloseCode.SERVICE_RESTART, CloseCode.UNAUTHORIZED, CloseCode.FORBIDDEN])

/**
 * Whether `server.disconnect` may close with `code`: 1000, 1001, 1012, 4401, 4403, or an
 * application code, 4000–4399 or 4600–4999 (docs/protocol.md §8). Patchbay's other codes
 * each promise the client something the server did not find (a bad frame, a slow reader).
 */
export function isDisconnectCode(code: number): boolean {
  if (KICK_CODES.has(code)) return true
  return Number.isInteger(code) && code >= 4000 && code <= 4999 && !(code >= OWN_RANGE.from && code <= OWN_RANGE.to)
}

/** The open connections of one server, by id. */
export class ConnectionRegistry {
  private readonly open = new Map<string, OpenConnection>()

  /** The adapter opened `session`: its record, listed until it closes or is disconnected. */
  add(session: Session, ctx: unknown, remoteAddress: string | undefined): OpenConnection {
    const entry: OpenConnection = { session, ctx, remoteAddress, openedAt: Date.now() }
    this.open.set(session.info.id, entry)
    return entry
  }

  /** The connection closed. */
  delete(session: Session): void {
    if (this.open.get(session.info.id)?.session === session) this.open.delete(session.info.id)
  }

  /** A snapshot of the open connections, oldest first. */
  list(): ConnectionDetails[] {
    const list: ConnectionDetails[] = []
    for (const entry of this.open.values()) list.push(detailsOf(entry))
    return list
  }

  /** One open connection, or undefined. */
  get(id: string): ConnectionDetails | undefined {
    const entry = this.open.get(id)
    return entry === undefined ? undefined : detailsOf(entry)
  }

  /** True while connection `id` is open on this server. */
  has(id: string): boolean {
    return this.open.has(id)
  }

  /**
   * Closes connection `id` with `code` and `reason` (cut to 123 UTF-8 bytes): its calls and
   * streams are aborted and its subscriptions end, as for any close. False when no connection
   * has that id here (it closed already, or is another process's).
   */
  disconnect(id: string, code: number, reason: string): boolean {
    if (!isDisconnectCode(code)) {
      throw new RangeError(`disconnect: ${String(code)} is not a code to close with; use 1000, 1001, 1012, 4401, 4403, or 4000–4399, 4600–4999 (docs/protocol.md §8)`)
    }
    const entry = this.open.get(id)
    if (entry === undefined) return false
    // Listed no more from now: it is on its way out, whatever its peer does with the close.
    this.open.delete(id)
    entry.session.close(code, reason)
    return true
  }
}

function detailsOf(entry: OpenConnection): ConnectionDetails {
  const { id, encoding } = entry.session.info
  return { id, encoding, ctx: entry.ctx, remoteAddress: entry.remoteAddress, openedAt: entry.openedAt }
}
