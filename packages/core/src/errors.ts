/**
 * Error codes carried by `error` messages (docs/protocol.md §6). Stable strings: clients
 * switch on them, so a code is never renamed. Handlers may also throw codes of their own
 * (upper snake case), which travel unchanged.
 */
export const ErrorCode = {
  /** The input failed validation, or the message was malformed; `issues` says why. */
  BAD_REQUEST: 'BAD_REQUEST',
  /** No procedure at that path. */
  NOT_FOUND: 'NOT_FOUND',
  /** The caller is not authenticated. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** The caller is authenticated but not allowed. */
  FORBIDDEN: 'FORBIDDEN',
  /** No result arrived before the call's deadline (raised by the client). */
  TIMEOUT: 'TIMEOUT',
  /** The caller aborted the call (raised by the client; the server's handler signal aborts). */
  CANCELLED: 'CANCELLED',
  /** Reserved for applications: the request conflicts with the current state. */
  CONFLICT: 'CONFLICT',
  /** A per-connection limit was reached (calls in flight, subscriptions, the send queue). */
  TOO_MANY_REQUESTS: 'TOO_MANY_REQUESTS',
  /** The connection sent requests faster than the server's rate limit; retry later. */
  RATE_LIMITED: 'RATE_LIMITED',
  /**
   * The topic engine (where topic events are stored and travel, e.g. Redis) cannot be reached:
   * the `sub` or `pub` was not done; retry later (docs/protocol.md §6).
   */
  UNAVAILABLE: 'UNAVAILABLE',
  /** Reserved for applications: a payload over a size the application enforces. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** The connection closed before a result arrived (raised by the client; retryable). */
  CONNECTION_LOST: 'CONNECTION_LOST',
  /** The client is closed or could not connect (raised by the client). */
  CONNECTION_FAILED: 'CONNECTION_FAILED',
  /** The handler failed. Message and stack are redacted unless the server opts in. */
  INTERNAL: 'INTERNAL',
} as const

/** One of the built-in error codes. */
export type BuiltinErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]
/** Any error code: a built-in one or a handler's own (autocompletes the built-ins). */
export type ErrorCodeString = BuiltinErrorCode | (string & {})

/** One validation problem, in the shape of Standard Schema issues. */
export interface ValidationIssue {
  readonly message: string
  readonly path?: ReadonlyArray<PropertyKey>
}

/** What an `error` message carries on the wire (docs/protocol.md §6). */
export interface WireError {
  code: string
  message: string
  data?: unknown
  issues?: ValidationIssue[]
}

/** Options of {@link PatchbayError}. */
export interface PatchbayErrorOptions {
  /** Data for the client; it is sent as is, so it must be encodable. */
  data?: unknown
  /** Validation issues (BAD_REQUEST). */
  issues?: ValidationIssue[]
  /** The underlying error; never sent over the wire. */
  cause?: unknown
}

const CODE_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/

/**
 * The one error class of Patchbay, on both sides. A handler throws it to fail a call with
 * its own code and data; the client rejects calls with it.
 */
export class PatchbayError<TCode extends string = ErrorCodeString> extends Error {
  override readonly name = 'PatchbayError'
  // Declared, not initialised: the constructor assigns them (no class-field code in a bundle).
  /** Stable string code, see {@link ErrorCode}. */
  declare readonly code: TCode
  /** Data sent by the thrower, if any. */
  declare readonly data: unknown
  /** Validation issues, for BAD_REQUEST. */
  declare readonly issues: ValidationIssue[] | undefined

  constructor(code: TCode, message?: string, options: PatchbayErrorOptions = {}) {
    super(message ?? code, options.cause === undefined ? undefined : { cause: options.cause })
    if (!CODE_PATTERN.test(code)) throw new TypeError(`invalid error code: ${JSON.stringify(code)}`)
    this.code = code
    this.data = options.data
    this.issues = options.issues
  }

  /** The wire shape of this error. */
  toWire(): WireError {
    const wire: WireError = { code: this.code, message: this.message }
    if (this.data !== undefined) wire.data = this.data
    if (this.issues !== undefined) wire.issues = this.issues
    return wire
  }

  /** Rebuilds an error received over the wire. */
  static fromWire(wire: WireError): PatchbayError {
    const options: PatchbayErrorOptions = {}
    if (wire.data !== undefined) options.data = wire.data
    if (wire.issues !== undefined) options.issues = wire.issues
    return new PatchbayError(wire.code, wire.message, options)
  }
}

/** True for a {@link PatchbayError}, optionally with the given code. */
export function isPatchbayError(value: unknown, code?: string): value is PatchbayError {
  return value instanceof PatchbayError && (code === undefined || value.code === code)
}

/** True if `code` is a well-formed error code. */
export function isErrorCode(code: unknown): code is string {
  return typeof code === 'string' && CODE_PATTERN.test(code)
}
