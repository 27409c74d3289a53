/**
 * The form of a WebSocket upgrade request (RFC 6455 §4.2.1), checked before anything of the
 * application runs (docs/protocol.md §2). `ws` checks the same fields, but only once it is
 * handed the socket, which is after the `context` hook: a malformed request would run the
 * hook (a database lookup, say) only to be refused anyway. Runtime-free: headers in, a
 * refusal or nothing out.
 */

/** An HTTP refusal: status, plain-text body, and any header the status calls for. */
export interface UpgradeRefusal {
  status: number
  body: string
  headers?: Readonly<Record<string, string>>
}

/** The request fields the check reads. */
export interface UpgradeRequestLike {
  readonly method?: string | undefined
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
}

/** 16 random bytes in base64 (RFC 6455 §4.1): 22 characters and `==`. */
const KEY_PATTERN = /^[+/0-9A-Za-z]{22}==$/
/** An HTTP token (RFC 7230 §3.2.6): what a subprotocol name must be. */
const TOKEN_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * Why this upgrade request is not a well-formed WebSocket handshake, as the refusal to send;
 * `undefined` when it is one. Statuses as `ws` would answer: 405 for a method other than GET,
 * 400 for a bad `Upgrade`, `Sec-WebSocket-Key`, `Sec-WebSocket-Version` (only 13, RFC 6455
 * §4.4, with the version named in the answer) or subprotocol list.
 */
export function malformedUpgrade(request: UpgradeRequestLike): UpgradeRefusal | undefined {
  if (request.method !== 'GET') return { status: 405, body: 'A WebSocket upgrade must be a GET request', headers: { Allow: 'GET' } }
  const upgrade = request.headers.upgrade
  if (typeof upgrade !== 'string' || upgrade.toLowerCase() !== 'websocket') return { status: 400, body: 'Invalid Upgrade header' }
  const key = request.headers['sec-websocket-key']
  if (typeof key !== 'string' || !KEY_PATTERN.test(key)) return { status: 400, body: 'Missing or invalid Sec-WebSocket-Key header' }
  if (request.headers['sec-websocket-version'] !== '13') {
    return { status: 400, body: 'Missing or unsupported Sec-WebSocket-Version header; this server speaks 13', headers: { 'Sec-WebSocket-Version': '13' } }
  }
  const protocols = request.headers['sec-websocket-protocol']
  if (protocols !== undefined && !isSubprotocolList(protocols)) return { status: 400, body: 'Invalid Sec-WebSocket-Protocol header' }
  return undefined
}

/**
 * True for a list `ws` accepts: HTTP tokens separated by commas, with optional spaces or tabs
 * around each, none empty and none twice. (Node joins repeated headers with ", ".)
 */
function isSubprotocolList(header: string | string[]): boolean {
  if (typeof header !== 'string') return false
  const seen = new Set<string>()
  for (const part of header.split(',')) {
    const name = part.replace(/^[ \t]+|[ \t]+$/g, '')
    if (!TOKEN_PATTERN.test(name) || seen.has(name)) return false
    seen.add(name)
  }
  return true
}
