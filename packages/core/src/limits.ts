/**
 * Receive-side limits, enforced on every decoded frame (docs/protocol.md §9). Defaults sit
 * well above honest use and far below `ws`'s 100 MiB default payload.
 */
export interface Limits {
  /**
   * Largest frame accepted, in bytes; a larger one closes the connection with 1009.
   * @default 1_048_576 (1 MiB)
   */
  maxPayload: number
  /**
   * Deepest nesting of arrays and objects in a message, envelope included.
   * @default 64
   */
  maxDepth: number
  /**
   * Longest procedure path, in characters.
   * @default 256
   */
  maxPathLength: number
  /**
   * Calls in flight on one connection; further calls fail with TOO_MANY_REQUESTS.
   * @default 4096
   */
  maxInFlight: number
  /**
   * Topic subscriptions one connection may hold; further ones fail with TOO_MANY_REQUESTS.
   * @default 1024
   */
  maxSubscriptions: number
  /**
   * Longest topic params, in characters of their canonical JSON; longer fail with BAD_REQUEST.
   * @default 1024
   */
  maxParamsLength: number
}

/** The default {@link Limits}. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxPayload: 1_048_576,
  maxDepth: 64,
  maxPathLength: 256,
  maxInFlight: 4096,
  maxSubscriptions: 1024,
  maxParamsLength: 1024,
})

/** Fills unset limits with their defaults and checks the given ones. */
export function resolveLimits(partial: Partial<Limits> = {}): Limits {
  const limits: Limits = { ...DEFAULT_LIMITS }
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof Limits)[]) {
    const value = partial[key]
    if (value === undefined) continue
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`limits.${key} must be a positive integer, got ${String(value)}`)
    }
    limits[key] = value
  }
  return limits
}
