/**
 * Counts the timers a test leaves behind: every `setTimeout` and `setInterval` made through
 * the globals (as Patchbay's packages, ioredis and ws make theirs) is tracked until it fires
 * (a timeout) or is cleared. Unref'd timers included, which `process.getActiveResourcesInfo`
 * leaves out, and accounted synchronously, which async_hooks' deferred `destroy` is not.
 * vitest's own timers were taken before any test ran, so `expect.poll` adds none.
 */

/** A timer still pending, with where it was made. */
export interface PendingTimer {
  readonly kind: 'timeout' | 'interval'
  readonly ms: number
  readonly stack: string
}

export interface TimerTracker {
  /** A point to count from: see {@link TimerTracker.since}. */
  mark(): number
  /** Timers made after `mark` (0: since tracking began) and still pending now. */
  since(mark: number): PendingTimer[]
  /** Puts the real globals back. */
  restore(): void
}

/** Replaces the timer globals with counting ones until `restore`. */
export function trackTimers(): TimerTracker {
  const real = { setTimeout, setInterval, clearTimeout, clearInterval }
  // Pending timers, by handle: the order they were made in, and what they are.
  const pending = new Map<unknown, PendingTimer & { readonly order: number }>()
  let made = 0
  const record = (handle: unknown, kind: PendingTimer['kind'], ms: number | undefined): void => {
    // Three frames: the caller of setTimeout/setInterval and two above it.
    const stack = (new Error().stack ?? '').split('\n').slice(3, 6).join(' <')
    pending.set(handle, { order: ++made, kind, ms: ms ?? 0, stack })
  }
  const forget = (handle: unknown): void => {
    pending.delete(handle)
  }
  globalThis.setTimeout = Object.assign((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const handle = real.setTimeout(
      (...values: unknown[]) => {
        pending.delete(handle)
        callback(...values)
      },
      ms,
      ...args,
    )
    record(handle, 'timeout', ms)
    return handle
  }, real.setTimeout)
  globalThis.setInterval = Object.assign((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const handle = real.setInterval(callback, ms, ...args)
    record(handle, 'interval', ms)
    return handle
  }, real.setInterval)
  // Either clear function clears either kind in Node.
  globalThis.clearTimeout = Object.assign((handle?: Parameters<typeof clearTimeout>[0]) => {
    forget(handle)
    real.clearTimeout(handle)
  }, real.clearTimeout)
  globalThis.clearInterval = Object.assign((handle?: Parameters<typeof clearInterval>[0]) => {
    forget(handle)
    real.clearInterval(handle)
  }, real.clearInterval)
  return {
    mark: () => made,
    since: (mark) => [...pending.values()].filter((timer) => timer.order > mark).map(({ kind, ms, stack }) => ({ kind, ms, stack })),
    restore: () => Object.assign(globalThis, real),
  }
}
