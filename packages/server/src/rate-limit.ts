/**
 * A token bucket per connection (docs/protocol.md §9.1), runtime-free: every message takes a
 * token, tokens come back at `perSecond` up to `burst`. A request without a token is refused
 * with RATE_LIMITED; a peer that keeps flooding until it owes a whole burst is closed 4429.
 */

/** The inbound rate limit of a connection. */
export interface RateLimit {
  /** Messages per second a connection may send, sustained. */
  perSecond: number
  /** Messages it may send at once after being quiet. */
  burst: number
}

export const DEFAULT_RATE_LIMIT: Readonly<RateLimit> = Object.freeze({ perSecond: 10_000, burst: 20_000 })

/** What taking a token found. */
export type RateVerdict = 'ok' | 'limited' | 'flood'

/**
 * A token bucket's state: tokens left (negative: the debt) and when they were last refilled
 * (epoch ms). A plain shape, so a session keeps it in two fields of its own rather than in an
 * object per connection.
 */
export interface TokenBucket {
  tokens: number
  refilledAt: number
}

/** A bucket holding a whole burst at `now`. */
export function fullBucket(limit: RateLimit, now: number): TokenBucket {
  return { tokens: limit.burst, refilledAt: now }
}

/**
 * Takes a token from `bucket` at `now`, after refilling it at the limit's rate up to its burst.
 * Below one token the message is `limited`; the debt keeps growing while the peer keeps
 * sending, and at a whole burst of debt it is a `flood`.
 */
export function takeToken(bucket: TokenBucket, limit: RateLimit, now: number): RateVerdict {
  const elapsed = now - bucket.refilledAt
  if (elapsed > 0) {
    bucket.tokens = Math.min(limit.burst, bucket.tokens + (elapsed * limit.perSecond) / 1000)
    bucket.refilledAt = now
  }
  const tokens = --bucket.tokens
  if (tokens >= 0) return 'ok'
  return tokens < -limit.burst ? 'flood' : 'limited'
}
