/**
 * Every line the server logs, in one place: its level, its message and its fields
 * (docs/guide/logging.md has the table). Each method asks the logger first and returns
 * before building anything when its level is off, so a silent logger costs one call per
 * event and no allocation. A line about a connection names it (`connectionId`); fields
 * never carry a token, a cookie, a header value or a call's input, at any level.
 */
import { CloseCode } from '@patchbay/core'
import { levelCheck, type LogLevel, type Logger } from './logger.js'

/** How loudly a refused upgrade is logged: `warn` when it says the deployment is wrong. */
export type RefusalLevel = 'warn' | 'info' | 'debug'

/** Who started a connection's close: this server (a violation, a kick, a shutdown, a missed pong) or the peer. */
export type ClosedBy = 'server' | 'peer'

/** The server's log lines, over one {@link Logger}. */
export class ServerLog {
  private readonly on: (level: LogLevel) => boolean

  constructor(private readonly logger: Logger) {
    this.on = levelCheck(logger)
  }

  /**
   * debug: a busy server opens thousands a second, and the close line (info) carries the
   * duration, so it alone is the connection's access-log line.
   */
  opened(connectionId: string, encoding: string, remoteAddress: string | undefined): void {
    if (this.on('debug')) this.logger.debug({ connectionId, encoding, remoteAddress }, 'Connection opened')
  }

  /** info: one line per connection, with how it ended. */
  closed(connectionId: string, code: number, reason: string, by: ClosedBy, openedAt: number): void {
    if (this.on('info')) this.logger.info({ connectionId, code, reason, by, durationMs: Date.now() - openedAt }, `Connection closed with ${code}`)
  }

  /** A refused upgrade: status and body, never the request (its URL or headers may hold a credential). */
  refused(level: RefusalLevel, status: number, reason: string, remoteAddress: string | undefined): void {
    if (this.on(level)) this.logger[level]({ status, reason, remoteAddress }, `Refused a WebSocket upgrade with HTTP ${status}: ${reason}`)
  }

  /** The `context` hook threw something other than a refusal: a bug, answered with HTTP 500. */
  contextFailed(err: unknown): void {
    if (this.on('error')) this.logger.error({ err }, 'The context hook threw; the upgrade was refused with HTTP 500')
  }

  /** A socket that did not send its upgrade request within `handshakeTimeout` (info: a slow or idle peer). */
  handshakeTimedOut(): void {
    if (this.on('info')) this.logger.info({ status: 408 }, 'Dropped a socket that sent no complete upgrade request within handshakeTimeout')
  }

  /** A new socket refused because `maxHandshakes` were in progress (warn: a limit was reached). */
  handshakesBusy(): void {
    if (this.on('warn')) this.logger.warn({ status: 503 }, 'Refused a socket: maxHandshakes handshakes in progress')
  }

  /** A peer that ignored the missing subprotocol in the server's answer (§2): closed before it had a session. */
  noSubprotocol(remoteAddress: string | undefined): void {
    if (this.on('warn')) {
      this.logger.warn({ code: CloseCode.SUBPROTOCOL_NOT_ACCEPTABLE, remoteAddress }, `Closed an upgraded socket without a Patchbay subprotocol with ${CloseCode.SUBPROTOCOL_NOT_ACCEPTABLE}`)
    }
  }

  /**
   * warn: the peer broke docs/protocol.md (a malformed frame, an unknown message type, a
   * duplicate id, a flood past the rate limit, a frame ws refused); `code` is what it was
   * closed with. A Patchbay client never does: a bug, a version mismatch or an attack.
   */
  violation(connectionId: string, code: number, reason: string): void {
    if (this.on('warn')) this.logger.warn({ connectionId, code, reason }, `Protocol violation, closing with ${code}: ${reason}`)
  }

  /** debug: a request answered RATE_LIMITED (one per message; the flood that closes is a violation). */
  rateLimited(connectionId: string, id: number): void {
    if (this.on('debug')) this.logger.debug({ connectionId, id }, 'Answered a request RATE_LIMITED')
  }

  /** warn: a reader too slow for what it was sent, closed 4507 (§14). */
  slowConsumer(connectionId: string, reason: string, bufferedAmount: number): void {
    if (this.on('warn')) {
      this.logger.warn({ connectionId, code: CloseCode.SLOW_CONSUMER, reason, bufferedAmount }, `Slow consumer, closing with ${CloseCode.SLOW_CONSUMER}: ${reason}`)
    }
  }

  /**
   * debug: a congested reader started losing events of a `drop` or `latest` topic, as the
   * topic's policy says (once per congestion episode; the client is told with a lag notice).
   */
  dropping(connectionId: string, topic: string, policy: string): void {
    if (this.on('debug')) this.logger.debug({ connectionId, topic, policy }, `Dropping events of "${topic}" for a congested reader`)
  }

  /** info: a peer that did not answer a ping within `heartbeatInterval` was terminated (a vanished network). */
  heartbeatTimeout(connectionId: string, intervalMs: number): void {
    if (this.on('info')) this.logger.info({ connectionId, intervalMs }, 'No pong within heartbeatInterval; terminated the connection')
  }

  /** error: a handler (or hook) threw something that is not a PatchbayError; the client saw INTERNAL. */
  handlerError(err: unknown, path: string, connectionId: string): void {
    if (this.on('error')) this.logger.error({ err, path, connectionId }, `Unexpected error in "${path}"; the client was sent INTERNAL`)
  }
}
