/**
 * Wall-clock time read once per synchronous run. Every message of a read chunk is handled in
 * one run (ws emits them back to back), so each would read the clock for the same instant: on
 * a VM a read costs ~60 ns, a tenth of what the server spends on a call. The first read asks
 * the clock and queues a microtask that forgets the answer, so the next run (after the next
 * microtask checkpoint: the end of the current task at the latest) reads it afresh.
 *
 * Use it where "when this batch arrived" is precise enough: the server's rate-limit refill
 * does. Within a long synchronous run the value lags behind the clock by that run's length,
 * so a refill counts less time than has passed (fewer tokens, never more). Not for anything
 * that must not fire early: a deadline set from it late in a long run would already have
 * lapsed, which is why the client's call deadlines read the clock itself.
 */
let cached = 0
let valid = false

const forget = (): void => {
  valid = false
}

/** `Date.now()` as of this synchronous run's first read. */
export function turnNow(): number {
  if (!valid) {
    cached = Date.now()
    valid = true
    queueMicrotask(forget)
  }
  return cached
}
