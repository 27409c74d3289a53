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

/** The most of a refused upgrade's body kept (Patchbay's own refusals are one short line). */
export const MAX_REFUSAL_BODY = 1024

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA'])
const SUBPROTOCOL_NAME = /\bpatchbay\.v\d+\.[A-Za-z0-9_-]+/g

/**
 * The `cause` of a CONNECTION_FAILED or CONNECTION_LOST error, and the `failure` of a
 * `reconnecting` or `closed` state event: what the client learned about why the connection
 * failed. An Error, so a logged PatchbayError prints it as its `[cause]`.
 */
export class ConnectionFailure extends Error implements ConnectionFailureDetails {
  override readonly name = 'ConnectionFailure'
  readonly kind: ConnectionFailureKind
  readonly url: string
  readonly offered: readonly string[]
  readonly answered: string | undefined
  readonly serverSubprotocols: readonly string[] | undefined
  readonly systemCode: string | undefined
  readonly status: number | undefined
  readonly body: string | undefined
  readonly closeCode: number | undefined
  readonly closeReason: string | undefined
  readonly error: unknown

  constructor(details: ConnectionFailureDetails) {
    super(describe(details))
    this.kind = details.kind
    this.url = details.url
    this.offered = details.offered
    this.answered = details.answered
    this.serverSubprotocols = details.serverSubprotocols
    this.systemCode = details.systemCode
    this.status = details.status
    this.body = details.body
    this.closeCode = details.closeCode
    this.closeReason = details.closeReason
    this.error = details.error
  }
}

/** The failure of an error the runtime raised during an attempt (Node's `ws`), if it says anything. */
export function failureOfError(error: unknown, base: Pick<ConnectionFailureDetails, 'url' | 'offered' | 'answered'>): ConnectionFailure | undefined {
  if (!(error instanceof Error)) return undefined
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) {
    const kind = code === 'ECONNREFUSED' ? 'refused' : DNS_CODES.has(code) ? 'dns' : 'network'
    return new ConnectionFailure({ ...base, kind, systemCode: code, error })
  }
  // `ws`'s own handshake checks: "Server sent an invalid subprotocol", "... no subprotocol".
  if (/subprotocol/i.test(error.message)) return new ConnectionFailure({ ...base, kind: 'subprotocol', error })
  return new ConnectionFailure({ ...base, kind: 'network', error })
}

/** The failure of an upgrade the server answered with an HTTP status instead of 101. */
export function failureOfRefusal(status: number, body: string, base: Pick<ConnectionFailureDetails, 'url' | 'offered'>): ConnectionFailure {
  const named = [...new Set(body.match(SUBPROTOCOL_NAME) ?? [])]
  // Patchbay answers 400 naming what it speaks when no offered subprotocol fits (§2).
  const mismatch = status === 400 && (named.length > 0 || /subprotocol/i.test(body))
  return new ConnectionFailure({ ...base, kind: mismatch ? 'subprotocol' : 'http', status, body, serverSubprotocols: named.length > 0 ? named : undefined })
}

function describe(details: ConnectionFailureDetails): string {
  const offered = details.offered.join(', ')
  const error = details.error instanceof Error ? details.error.message : undefined
  const closed = details.closeCode === undefined ? '' : ` (close ${details.closeCode}${details.closeReason ? `: ${details.closeReason}` : ''})`
  switch (details.kind) {
    case 'refused':
      return `${error ?? 'ECONNREFUSED'}: nothing accepts connections at ${details.url} (is the server running, on that host and port?)`
    case 'dns':
      return `${error ?? details.systemCode ?? 'DNS lookup failed'}: the host name in ${details.url} does not resolve`
    case 'network':
      return `${error ?? 'network error'}${closed}`
    case 'http':
      return `the server refused the WebSocket upgrade with HTTP ${String(details.status)}${details.body ? `: ${details.body.trim()}` : ''}`
    case 'subprotocol': {
      const server =
        details.serverSubprotocols !== undefined
          ? `the server speaks ${details.serverSubprotocols.join(', ')}`
          : details.answered !== undefined && details.answered !== ''
            ? `the server answered ${details.answered}, which the client did not offer`
            : error !== undefined
              ? `the server does not speak it (${error})`
              : 'the server answered none of them'
      const refusal = details.status === undefined ? '' : ` (HTTP ${details.status}${details.body ? `: ${details.body.trim()}` : ''})`
      return `no shared subprotocol (a protocol version mismatch, not retried): the client offered ${offered}; ${server}${refusal}`
    }
    case 'timeout':
      return details.closeReason ?? error ?? 'no answer in time'
    case 'closed':
      return `the connection closed${closed}`
    case 'token':
      return `the token function failed: ${error ?? String(details.error)}`
    case 'unknown':
      return (
        `the connection failed before it opened${closed}. A browser does not tell a page why: a refused port, a host ` +
        `that does not resolve, a refused upgrade (an HTTP 401 from the server's context hook, a 400 for no shared ` +
        `subprotocol) all look alike here. The browser's console names the network error, and the server's log ` +
        `says why it refused, if it did. Offered: ${offered}`
      )
  }
}
