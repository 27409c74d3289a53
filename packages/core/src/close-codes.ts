/**
 * WebSocket close codes Patchbay sends (docs/protocol.md §8). 44xx mirror HTTP statuses.
 * Whether a client may reconnect after each is decided in {@link isRetryableClose}.
 */
export const CloseCode = {
  /** Normal closure: the client or server closed on purpose. */
  NORMAL: 1000,
  /** The server is going away (shutdown); reconnect, ideally to another process. */
  GOING_AWAY: 1001,
  /** Malformed framing (unmasked client frame, reserved bits, bad opcode); sent by `ws` (§2.2). */
  PROTOCOL_ERROR: 1002,
  /** A frame of the wrong kind for the negotiated codec (text under msgpack, binary under JSON). */
  UNSUPPORTED_DATA: 1003,
  /** A close frame without a code arrived (set locally by the WebSocket API, never sent). */
  NO_STATUS: 1005,
  /** No close frame was received (set locally by the WebSocket API, never sent). */
  ABNORMAL: 1006,
  /** A text frame (or close reason) that is not valid UTF-8; sent by `ws` (§2.2). */
  INVALID_PAYLOAD: 1007,
  /** A message in more fragments than `ws` reassembles (16,384); sent by `ws` (§2.2). */
  POLICY_VIOLATION: 1008,
  /** A message exceeded `maxPayload`. */
  MESSAGE_TOO_BIG: 1009,
  /** The server hit an unexpected condition. */
  INTERNAL_ERROR: 1011,
  /** The server is restarting; reconnect. */
  SERVICE_RESTART: 1012,
  /** A frame that does not decode, or is not a valid message (§3). */
  BAD_REQUEST: 4400,
  /** Credentials missing or expired. */
  UNAUTHORIZED: 4401,
  /** Not allowed. */
  FORBIDDEN: 4403,
  /** No subprotocol was negotiated (§2). */
  SUBPROTOCOL_NOT_ACCEPTABLE: 4406,
  /** A request opened an id that a call, stream, subscription or publish still holds (§4.1). */
  DUPLICATE_ID: 4409,
  /** The peer sent too much, too fast. */
  TOO_MANY_REQUESTS: 4429,
  /**
   * The peer read too slowly: its outbound buffer passed the hard limit (or a `close`-policy
   * topic's high-water mark) (§14). Retryable: a new connection starts with an empty buffer.
   */
  SLOW_CONSUMER: 4507,
} as const

/** One of the close codes of {@link CloseCode}. */
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode]

/**
 * The codes no retry fixes. Numbers, not `CloseCode.X`: a bundler cannot take single
 * properties out of an object, so naming them here would put the whole table into every
 * browser client, which uses only this function (docs/guide/bundling.md). The type keeps
 * each one a code of the table.
 */
const FATAL: ReadonlySet<number> = new Set<CloseCodeValue>([
  1002, // PROTOCOL_ERROR
  1003, // UNSUPPORTED_DATA
  1007, // INVALID_PAYLOAD
  1008, // POLICY_VIOLATION
  1009, // MESSAGE_TOO_BIG
  4400, // BAD_REQUEST
  4401, // UNAUTHORIZED
  4403, // FORBIDDEN
  4406, // SUBPROTOCOL_NOT_ACCEPTABLE
  4409, // DUPLICATE_ID
])

/**
 * Whether a client may reconnect after the connection closed with `code`. The single place
 * that decides retry-or-give-up: codes that mean "this client is wrong" are fatal, since
 * retrying would repeat the same failure; everything else (network loss, restarts, server
 * errors, rate limits after backoff) may be retried.
 */
export function isRetryableClose(code: number): boolean {
  return code !== 1000 /* NORMAL */ && !FATAL.has(code)
}

/** The most bytes a close reason may take (RFC 6455 §5.5: 125 minus the 2-byte code). */
export const MAX_CLOSE_REASON_BYTES = 123

const encoder = new TextEncoder()

/**
 * Cuts a close reason to at most {@link MAX_CLOSE_REASON_BYTES} UTF-8 bytes without
 * splitting a character (a split character would make the close frame invalid UTF-8).
 */
export function truncateCloseReason(reason: string): string {
  if (reason.length <= MAX_CLOSE_REASON_BYTES / 3) return reason
  const bytes = encoder.encode(reason)
  if (bytes.length <= MAX_CLOSE_REASON_BYTES) return reason
  let end = MAX_CLOSE_REASON_BYTES
  // Step back over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--
  return new TextDecoder().decode(bytes.subarray(0, end))
}
