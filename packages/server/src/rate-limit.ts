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

  /**
   * Takes a token. Below one token the message is `limited`; the debt keeps growing while the
   * peer keeps sending, and at a whole burst of debt it is a `flood`.
   */
  take(now: number): RateVerdict {
    const elapsed = now - this.last
    if (elapsed > 0) {
      this.tokens = Math.min(this.limit.burst, this.tokens + (elapsed * this.limit.perSecond) / 1000)
      this.last = now
    }
    this.tokens--
    if (this.tokens >= 0) return 'ok'
    return this.tokens < -this.limit.burst ? 'flood' : 'limited'
  }
}
