/** The versioned subprotocol names (docs/protocol.md §2). */
export const Subprotocol = {
  /** JSON in text frames. */
  JSON: 'patchbay.v1.json',
  /** MessagePack in binary frames. */
  MSGPACK: 'patchbay.v1.msgpack',
} as const

/** A subprotocol name Patchbay speaks. */
export type SubprotocolName = (typeof Subprotocol)[keyof typeof Subprotocol]

/** The encodings, by short name. */
export type Encoding = 'json' | 'msgpack'

/** Subprotocol of each encoding. */
export const subprotocolOf: Readonly<Record<Encoding, SubprotocolName>> = {
  json: Subprotocol.JSON,
  msgpack: Subprotocol.MSGPACK,
}

/** The encodings a server accepts unless told otherwise, msgpack (smaller, faster) first. Clients offer JSON unless given msgpack's codec. */
export const DEFAULT_ENCODINGS: readonly Encoding[] = ['msgpack', 'json']

/**
 * Picks the subprotocol for a handshake: the first one the client offered that the server
 * supports (the client lists them in order of preference). Returns `undefined` when they
 * share none, which the server answers by refusing the upgrade.
 *
 * @param offered - the client's `Sec-WebSocket-Protocol` values, in order
 * @param supported - what the server accepts
 */
export function negotiateSubprotocol(
  offered: Iterable<string>,
  supported: readonly Encoding[] = DEFAULT_ENCODINGS,
): SubprotocolName | undefined {
  for (const name of offered) {
    for (const encoding of supported) {
      if (subprotocolOf[encoding] === name) return subprotocolOf[encoding]
    }
  }
  return undefined
}

/** Splits a raw `Sec-WebSocket-Protocol` header into its values. */
export function parseSubprotocolHeader(header: string | undefined): string[] {
  if (header === undefined || header === '') return []
  return header.split(',').map((value) => value.trim()).filter((value) => value !== '')
}

/** The encoding of a subprotocol name, or `undefined` if it is not one of ours. */
export function encodingOf(subprotocol: string): Encoding | undefined {
  if (subprotocol === Subprotocol.JSON) return 'json'
  if (subprotocol === Subprotocol.MSGPACK) return 'msgpack'
  return undefined
}

/**
 * Prefix of the credential a browser client offers as an extra subprotocol (§2.1): browsers
 * cannot set headers on a WebSocket handshake, and a token in the URL ends up in access logs.
 * The server never selects it; the `context` hook reads it.
 */
export const AUTH_SUBPROTOCOL_PREFIX = 'patchbay.auth.'

// Pure: a client bundle, which never reads a token back, drops the decoder.
const encoder = /* @__PURE__ */ new TextEncoder()
const decoder = /* @__PURE__ */ new TextDecoder('utf-8', { fatal: true })
const BASE64URL = /^[A-Za-z0-9_-]*$/

/**
 * The subprotocol that carries `token`: the prefix, then the token's UTF-8 bytes in base64url
 * without padding (a subprotocol must be an HTTP token: no spaces, commas or `=`).
 */
export function authSubprotocol(token: string): string {
  let binary = ''
  for (const byte of encoder.encode(token)) binary += String.fromCharCode(byte)
  return AUTH_SUBPROTOCOL_PREFIX + btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')
}

/** The token a client offered with {@link authSubprotocol}, or `undefined` if none (or malformed). */
export function tokenFromSubprotocols(offered: Iterable<string>): string | undefined {
  for (const name of offered) {
    if (!name.startsWith(AUTH_SUBPROTOCOL_PREFIX)) continue
    const encoded = name.slice(AUTH_SUBPROTOCOL_PREFIX.length)
    if (!BASE64URL.test(encoded)) return undefined
    try {
      const binary = atob(encoded.replaceAll('-', '+').replaceAll('_', '/'))
      return decoder.decode(Uint8Array.from(binary, (char) => char.charCodeAt(0)))
    } catch {
      return undefined
    }
  }
  return undefined
}
