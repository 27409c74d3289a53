import { describe, expect, it } from 'vitest'
import { turnNow } from '@patchbay/core'

describe('turnNow: the clock read once per turn', () => {
  it('answers the same instant for a whole synchronous run', () => {
    const first = turnNow()
    // Busy for a few milliseconds: Date.now() moves, the turn's clock does not.
    const until = Date.now() + 5
    while (Date.now() < until) {
      // spin
    }
    expect(turnNow()).toBe(first)
    expect(Date.now()).toBeGreaterThan(first)
  })

  it('reads the clock again in the next turn, and never runs ahead of it', async () => {
    const before = turnNow()
    await new Promise((resolve) => setTimeout(resolve, 10))
    const after = turnNow()
    expect(after).toBeGreaterThanOrEqual(before + 9)
    expect(after).toBeLessThanOrEqual(Date.now())
  })

  it('also moves on after a microtask checkpoint within the same macrotask', async () => {
    const before = turnNow()
    const until = Date.now() + 3
    while (Date.now() < until) {
      // spin
    }
    await Promise.resolve()
    // The microtask that forgets the cached value ran before this continuation or right after;
    // one more checkpoint makes sure, and the clock is read afresh.
    await Promise.resolve()
    expect(turnNow()).toBeGreaterThan(before)
  })
})
