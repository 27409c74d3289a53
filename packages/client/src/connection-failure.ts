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

  constructor(details: ConnectionFailureDetails) {
    super(describe(details))
    Object.assign(this, details)
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
  const error = details.error instanceof Error ? details.error.message : undefined
  const closed = details.closeCode === undefined ? '' : ` (close ${details.closeCode}${details.closeReason ? `: ${details.closeReason}` : ''})`
  const http = details.status === undefined ? '' : `HTTP ${details.status}${details.body ? `: ${details.body.trim()}` : ''}`
  switch (details.kind) {
    case 'refused':
      return `${error ?? 'ECONNREFUSED'}: nothing accepts connections at ${details.url} (is the server running, on that host and port?)`
    case 'dns':
      return `${error ?? 'DNS lookup failed'}: the host name in ${details.url} does not resolve`
    case 'http':
      return `the server refused the WebSocket upgrade with ${http}`
    case 'subprotocol': {
      const server = details.serverSubprotocols
        ? `the server speaks ${details.serverSubprotocols.join(', ')}`
        : details.answered
          ? `the server answered ${details.answered}, which the client did not offer`
          : `the server answered none of them${error ? ` (${error})` : ''}`
      return `no shared subprotocol (a protocol version mismatch, not retried): the client offered ${details.offered.join(', ')}; ${server}${http && ` (${http})`}`
    }
    case 'timeout':
      return details.closeReason ?? 'no answer in time'
    case 'token':
      return `the token function failed: ${error ?? String(details.error)}`
    case 'unknown':
      // A browser reports every failed handshake as 1006 and nothing else.
      return `the connection failed before it opened${closed}; a browser does not tell a page why (a refused port, an unknown host, a refused upgrade look alike): see the browser's console, and the server's log`
    default:
      return `${error ?? 'the connection closed'}${closed}`
  }
}
