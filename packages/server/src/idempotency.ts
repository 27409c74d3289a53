/**
 * The dedupe window for idempotent calls (docs/protocol.md §4.2), runtime-free: a call that
 * carries a key runs once per (path, key) within the window; a retry (on a new connection,
 * after the first dropped) gets the first run's outcome, waiting for it if it is still
 * running. Bounded in time and in entries.
 */
import type { WireError } from '@patchbay/core'
import type { Outcome } from './dispatch.js'

/** How long and how many outcomes the server remembers. */
export interface IdempotencyOptions {
  /**
   * Milliseconds an outcome is remembered after the call finished.
   * @default 60_000
   */
  windowMs: number
  /**
   * Keys remembered at most, running or finished; past it the oldest finished ones are
   * forgotten first. When all of them are still running (keyed calls outlive their
   * connection, §4.2), a call with a new key fails with TOO_MANY_REQUESTS.
   * @default 10_000
   */
  maxKeys: number
  /**
   * Calls that may wait at once for one key's run to finish (retries that joined it). A
   * joined call keeps waiting after its connection dropped, so without this a peer
   * reconnecting in a loop could pile up waiters on a run that never ends; past it a retry
   * fails with TOO_MANY_REQUESTS.
   * @default 64
   */
  maxWaitersPerKey: number
}

export const DEFAULT_IDEMPOTENCY: Readonly<IdempotencyOptions> = Object.freeze({ windowMs: 60_000, maxKeys: 10_000, maxWaitersPerKey: 64 })

interface Entry {
  outcome: Outcome | undefined
  waiters: ((outcome: Outcome) => void)[]
  /** When a finished entry may be forgotten (Infinity while running). */
  expires: number
}

/** What `claim` decided. */
export type Claim =
  | { kind: 'run'; finish: (outcome: Outcome) => void }
  | { kind: 'done'; outcome: Outcome }
  | { kind: 'running'; outcome: Promise<Outcome> }
  /**
   * Refused: every key remembered is still running, so nothing can be forgotten to make
   * room (`keys`), or this key's run already has `maxWaitersPerKey` calls waiting (`waiters`).
   */
  | { kind: 'full'; reason: 'keys' | 'waiters' }
  /** Refused because the store cannot guard the call now (Redis unreachable): nothing ran. */
  | { kind: 'refused'; error: WireError }

/**
 * The seam of the dedupe window: what the session asks when a keyed call arrives. The
 * in-process {@link DedupeWindow} is the default and answers at once; an engine may provide
 * one that spans every server process (`Engine.dedupe`, e.g. `@patchbay/redis`), which may
 * answer with a promise (and may wait inside it for a run on another process).
 */
export interface DedupeStore {
  /** The first call with this key runs; later ones get its outcome (or join the run). */
  claim(path: string, key: string): Claim | Promise<Claim>
  /** Why a claim was refused with `full`, for the caller's error message. */
  refusal(reason: 'keys' | 'waiters'): string
  /** Calls answered from the window instead of running again, since start. */
  readonly deduplicated: number
}

/** Outcomes of idempotent calls by (path, key), in this process. */
export class DedupeWindow implements DedupeStore {
  private readonly entries = new Map<string, Entry>()
  /** Calls answered from the window instead of running again. */
  deduplicated = 0

  constructor(private readonly options: IdempotencyOptions) {}

  /** The first call with this key runs; later ones get its outcome. */
  claim(path: string, key: string, now = Date.now()): Claim {
    this.sweep(now)
    const id = `${path}\u0000${key}`
    const entry = this.entries.get(id)
    if (entry !== undefined && entry.expires > now) {
      this.deduplicated++
      if (entry.outcome !== undefined) return { kind: 'done', outcome: entry.outcome }
      if (entry.waiters.length >= this.options.maxWaitersPerKey) return { kind: 'full', reason: 'waiters' }
      return { kind: 'running', outcome: new Promise((resolve) => entry.waiters.push(resolve)) }
    }
    if (entry !== undefined) this.entries.delete(id)
    // A keyed call runs on after its connection drops, so without this a peer reconnecting
    // in a loop could keep any number of handlers running (maxInFlight is per connection).
    if (this.entries.size >= this.options.maxKeys) return { kind: 'full', reason: 'keys' }
    const fresh: Entry = { outcome: undefined, waiters: [], expires: Infinity }
    this.entries.set(id, fresh)
    return {
      kind: 'run',
      finish: (outcome) => {
        fresh.outcome = outcome
        fresh.expires = Date.now() + this.options.windowMs
        // Re-inserted so the map stays ordered by expiry, which the sweep relies on.
        if (this.entries.get(id) === fresh) {
          this.entries.delete(id)
          this.entries.set(id, fresh)
        }
        const waiters = fresh.waiters
        fresh.waiters = []
        for (const resolve of waiters) resolve(outcome)
      },
    }
  }

  /** Why a claim was refused, for the caller's error message. */
  refusal(reason: 'keys' | 'waiters'): string {
    return reason === 'keys'
      ? `More than ${this.options.maxKeys} idempotent calls running`
      : `More than ${this.options.maxWaitersPerKey} calls wait for this key`
  }

  /** Keys remembered now (running or finished). */
  get size(): number {
    return this.entries.size
  }

  /** Forgets expired outcomes, and the oldest finished ones past `maxKeys`. */
  private sweep(now: number): void {
    let over = this.entries.size - this.options.maxKeys + 1
    for (const [id, entry] of this.entries) {
      if (entry.outcome === undefined) continue // running: bounded by maxInFlight per connection
      if (entry.expires > now && over <= 0) break
      this.entries.delete(id)
      over--
    }
  }
}
