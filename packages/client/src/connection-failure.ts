/**
 * Why a connection attempt failed or a connection ended, as far as the client could learn it
 * (docs/guide/errors.md). Node's `ws` tells a lot (the system error, the HTTP answer to the
 * upgrade, the subprotocol answered); a browser tells a page almost nothing, so there the
 * message says what can be known and where to look.
 */

/**
 * What went wrong, most specific first:
 * - `refused`: nothing listens at that address and port (ECONNREFUSED)
 * - `dns`: the host name does not resolve (ENOTFOUND, EAI_AGAIN, EAI_FAIL)
 * - `network`: another socket or TLS error (ECONNRESET, EHOSTUNREACH, a bad certificate…)
 * - `http`: the server answered the upgrade with an HTTP status (a `context` hook's 401, a 503…)
 * - `subprotocol`: client and server share no subprotocol (a 400 naming others, or an answer
 *   the client did not offer): a version mismatch, never retried (close 4406)
 * - `timeout`: no answer to the upgrade within `connectTimeout`, or no answer to a ping
 * - `closed`: the connection closed; `closeCode` and `closeReason` say how
 * - `token`: the `token` function threw or rejected (`error`), so no attempt was made
 * - `unknown`: the attempt failed and the runtime does not say why (a browser)
 */
export type ConnectionFailureKind = 'refused' | 'dns' | 'network' | 'http' | 'subprotocol' | 'timeout' | 'closed' | 'token' | 'unknown'

/** The fields of a {@link ConnectionFailure}. */
export interface ConnectionFailureDetails {
  kind: ConnectionFailureKind
  /** The URL the client connects to. */
  url: string
  /** The subprotocols the client offered, most preferred first (never the credential, §2.1). */
  offered: readonly string[]
  /** The subprotocol the server answered with, when it answered one. */
  answered?: string | undefined
  /** Patchbay subprotocols the server named in its refusal (`patchbay.v2.json`…). */
  serverSubprotocols?: readonly string[] | undefined
  /** The system error code (`ECONNREFUSED`, `ENOTFOUND`…); Node only. */
  systemCode?: string | undefined
  /** The HTTP status of a refused upgrade; Node only (a browser cannot see it). */
  status?: number | undefined
  /** The body of a refused upgrade, at most 1 KiB of it; Node only. */
  body?: string | undefined
  /** The WebSocket close code the attempt or connection ended with. */
  closeCode?: number | undefined
  /** Its close reason. */
  closeReason?: string | undefined
  /** The runtime's own error, when it gave one. */
  error?: unknown
}

/**
 * The `cause` of a CONNECTION_FAILED or CONNECTION_LOST error, and the `failure` of a
 * `reconnecting` or `closed` state event: what the client learned about why the connection
 * failed. An Error, so a logged PatchbayError prints it as its `[cause]`.
 */
export class ConnectionFailure extends Error {
  override readonly name = 'ConnectionFailure'
  // Declared, not initialised: the constructor copies them in one step (a smaller bundle).
  declare readonly kind: ConnectionFailureKind
  declare readonly url: string
  declare readonly offered: readonly string[]
  declare readonly answered: string | undefined
  declare readonly serverSubprotocols: readonly string[] | undefined
  declare readonly systemCode: string | undefined
  declare readonly status: number | undefined
  declare readonly body: string | undefined
  declare readonly closeCode: number | undefined
  declare readonly closeReason: string | undefined
  declare readonly error: unknown

  /** `message` defaults to one made from `details`; node-diagnostics.ts brings its own for what only Node can know. */
  constructor(details: ConnectionFailureDetails, message: string = describe(details)) {
    super(message)
    Object.assign(this, details)
  }
}

/** `(close 1006: reason)`: how a failure, and the errors of what a close ended, name a close. */
export const closeDetail = (code: number, reason: string | undefined): string => `(close ${code}${reason ? `: ${reason}` : ''})`

function describe(details: ConnectionFailureDetails): string {
  const error = details.error instanceof Error ? details.error.message : undefined
  const closed = details.closeCode === undefined ? '' : ` ${closeDetail(details.closeCode, details.closeReason)}`
  switch (details.kind) {
    case 'subprotocol':
      return `no shared subprotocol (a protocol version mismatch, not retried): the client offered ${details.offered.join(', ')}; the server answered ${details.answered ?? 'none of them'}${error ? ` (${error})` : ''}`
    case 'timeout':
      return details.closeReason ?? 'no answer in time'
    case 'token':
      return `the token function failed: ${error ?? String(details.error)}`
    case 'unknown':
      // A browser reports every failed handshake as 1006 and nothing else.
      return `the connection failed before it opened${closed}; a browser does not say why: see the browser's console, and the server's log`
    default:
      // refused, dns, http and network come with their own message (node-diagnostics.ts).
      return `${error ?? 'the connection closed'}${closed}`
  }
}
