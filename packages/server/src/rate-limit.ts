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

/** `tokens` after `elapsed` ms (> 0) of refill at the limit's rate, up to its burst. */
export function refill(tokens: number, elapsed: number, limit: RateLimit): number {
  return Math.min(limit.burst, tokens + (elapsed * limit.perSecond) / 1000)
}

/**
 * The verdict on a message once its token was taken (`tokens` may be negative: the debt).
 * Below one token the message is `limited`; the debt keeps growing while the peer keeps
 * sending, and at a whole burst of debt it is a `flood`.
 */
export function verdictOf(tokens: number, limit: RateLimit): RateVerdict {
  if (tokens >= 0) return 'ok'
  return tokens < -limit.burst ? 'flood' : 'limited'
}

/** A bucket of its own (a session keeps the same two numbers in its own fields: one object less per connection). */
export class TokenBucket {
  private tokens: number
  private last: number

  constructor(
    private readonly limit: RateLimit,
    now: number,
  ) {
    this.tokens = limit.burst
    this.last = now
  }

  /** Takes a token (see {@link verdictOf}). */
  take(now: number): RateVerdict {
    const elapsed = now - this.last
    if (elapsed > 0) {
      this.tokens = refill(this.tokens, elapsed, this.limit)
      this.last = now
    }
    return verdictOf(--this.tokens, this.limit)
  }
}
