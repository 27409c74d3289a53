/**
 * The server's dedupe window for idempotent calls (docs/protocol.md §4.2): one run per
 * (path, key), bounded in time (windowMs) and in entries (maxKeys, oldest finished first).
 */
import { describe, expect, it } from 'vitest'
import { DedupeWindow } from '../../packages/server/src/idempotency.js'
import { fullBucket, takeToken, type RateLimit } from '../../packages/server/src/rate-limit.js'

const ok = (output: unknown) => ({ ok: true as const, output })

describe('DedupeWindow', () => {
  it('runs a key once; a retry while running waits for the outcome, one after gets it', async () => {
    const window = new DedupeWindow({ windowMs: 1_000, maxKeys: 10, maxWaitersPerKey: 64 })
    const first = window.claim('orders.place', 'k1', 0)
    expect(first.kind).toBe('run')
    const joined = window.claim('orders.place', 'k1', 1)
    expect(joined.kind).toBe('running')
    if (first.kind !== 'run' || joined.kind !== 'running') return
    first.finish(ok(42))
    await expect(joined.outcome).resolves.toEqual(ok(42))
    expect(window.claim('orders.place', 'k1', Date.now())).toEqual({ kind: 'done', outcome: ok(42) })
    // The same key on another path is another call.
    expect(window.claim('orders.cancel', 'k1', Date.now()).kind).toBe('run')
    expect(window.deduplicated).toBe(2)
  })

  it('forgets an outcome after windowMs: the key runs again', () => {
    const window = new DedupeWindow({ windowMs: 50, maxKeys: 10, maxWaitersPerKey: 64 })
    const claim = window.claim('p', 'k', Date.now())
    if (claim.kind === 'run') claim.finish(ok(1))
    expect(window.claim('p', 'k', Date.now() + 10).kind).toBe('done')
    expect(window.claim('p', 'k', Date.now() + 100).kind).toBe('run')
  })

  it('holds at most maxKeys finished outcomes, forgetting the oldest first; running ones stay', () => {
    const window = new DedupeWindow({ windowMs: 60_000, maxKeys: 3, maxWaitersPerKey: 64 })
    const running = window.claim('p', 'running', Date.now())
    for (const key of ['a', 'b', 'c', 'd', 'e']) {
      const claim = window.claim('p', key, Date.now())
      if (claim.kind === 'run') claim.finish(ok(key))
    }
    expect(window.size).toBeLessThanOrEqual(3)
    expect(window.claim('p', 'e', Date.now()).kind).toBe('done')
    expect(window.claim('p', 'a', Date.now()).kind).toBe('run')
    expect(running.kind).toBe('run')
    expect(window.claim('p', 'running', Date.now()).kind).toBe('running')
  })
})

describe('DedupeWindow bounds (docs/protocol.md §9.1)', () => {
  it('refuses a new key when every remembered key is still running', () => {
    const window = new DedupeWindow({ windowMs: 60_000, maxKeys: 2, maxWaitersPerKey: 64 })
    expect(window.claim('p', 'a').kind).toBe('run')
    expect(window.claim('p', 'b').kind).toBe('run')
    expect(window.claim('p', 'c')).toEqual({ kind: 'full', reason: 'keys' })
    // Joining a key already held needs no room.
    expect(window.claim('p', 'a').kind).toBe('running')
  })

  it('lets at most maxWaitersPerKey calls wait for one run', () => {
    const window = new DedupeWindow({ windowMs: 60_000, maxKeys: 10, maxWaitersPerKey: 2 })
    const first = window.claim('p', 'k')
    expect(window.claim('p', 'k').kind).toBe('running')
    expect(window.claim('p', 'k').kind).toBe('running')
    expect(window.claim('p', 'k')).toEqual({ kind: 'full', reason: 'waiters' })
    if (first.kind === 'run') first.finish(ok(1))
    expect(window.claim('p', 'k')).toEqual({ kind: 'done', outcome: ok(1) })
  })
})

describe('token bucket', () => {
  it('allows a burst, refills at the rate, limits and then calls a persistent flood', () => {
    const limit: RateLimit = { perSecond: 10, burst: 5 }
    const bucket = fullBucket(limit, 0)
    const take = (now: number) => takeToken(bucket, limit, now)
    for (let i = 0; i < 5; i++) expect(take(0)).toBe('ok')
    expect(take(0)).toBe('limited')
    // 100 ms at 10/s brings one token back (the debt of the limited one is repaid first).
    expect(take(200)).toBe('ok')
    // Keep sending without pause: limited, until a whole burst is owed.
    const verdicts = Array.from({ length: 10 }, () => take(200))
    expect(verdicts.slice(0, 5).every((v) => v === 'limited')).toBe(true)
    expect(verdicts.at(-1)).toBe('flood')
    // A long pause refills only up to the burst.
    const after = fullBucket(limit, 0)
    expect(Array.from({ length: 6 }, () => takeToken(after, limit, 60_000))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'limited'])
  })
})
