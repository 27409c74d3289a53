/**
 * The dedupe window of idempotent calls (docs/protocol.md §4.2) in Redis, so that it spans
 * every server process: a keyed call runs once whichever node it (or its retry) reaches.
 *
 * Per (path, key), under one hash tag (one slot in Redis Cluster):
 * - `<prefix>i{<tag>}:c` the claim: `SET NX PX windowMs` with the run's id; the node that set
 *   it runs the call;
 * - `<prefix>i{<tag>}:o` the outcome (msgpack of `{ ok, output }` or `{ ok: false, error }`),
 *   stored once with the same TTL when the run ends, and published on `<prefix>i{<tag>}`.
 *
 * A retry that finds the key claimed but no outcome waits: for the publication, with a poll
 * as fallback (a lost message, a subscriber connection down). Each poll claims again, so a
 * claim whose node died (no outcome ever) expires after windowMs and the waiting retry runs.
 */
import { createHash } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import { ErrorCode } from '@patchbay/core'
import type { Claim, DedupeStore, IdempotencyOptions, Outcome } from '@patchbay/server'
import { pack, unpack } from './payload.js'

/** Claim or read, in one step: `{'done', outcome}`, `{'run'}` (claimed now) or `{'running'}`. */
export const CLAIM_LUA = `
local outcome = redis.call('GET', KEYS[2])
if outcome then return {'done', outcome} end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'run'} end
return {'running'}
`

/**
 * Stores the first outcome (a late second run does not replace it), then tells the waiters:
 * ARGV[4] is `PUBLISH`, or `SPUBLISH` on a cluster (the notify channel shares the keys' slot).
 */
export const FINISH_LUA = `
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call(ARGV[4], ARGV[3], ARGV[1])
end
return 1
`

/** Extends the claim while its run goes on, if it is still this run's. */
export const RENEW_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`

/** The Redis names of one (path, key). */
export interface DedupeKeys {
  readonly claim: string
  readonly outcome: string
  /** The pub/sub channel its outcome is published on. */
  readonly notify: string
}

/** The keys of (path, key) under `prefix`. */
export function dedupeKeysOf(prefix: string, path: string, key: string): DedupeKeys {
  const tag = createHash('sha256').update(`${path}\u0000${key}`).digest('base64url').slice(0, 16)
  const base = `${prefix}i{${tag}}`
  return { claim: `${base}:c`, outcome: `${base}:o`, notify: base }
}

/** What the store needs of the engine: its connections, as they are now. */
export interface DedupeLinks {
  readonly prefix: string
  /** The command connection once ready; rejects at once while Redis is unreachable. */
  command(): Promise<Redis | Cluster>
  /** `PUBLISH`, or `SPUBLISH` on a Redis Cluster. */
  readonly publishCommand: 'PUBLISH' | 'SPUBLISH'
  /**
   * Subscribes this process to `channel` (on a cluster, on its master's subscriber
   * connection): resolves once Redis confirmed; undefined when that connection is down (the
   * waiters poll).
   */
  listen(channel: string): Promise<void> | undefined
  /** Ends a `listen`. */
  unlisten(channel: string): void
  /** A new id for a run of this process. */
  runId(): string
  readonly onError: ((error: Error) => void) | undefined
}

type ClaimScript = (claim: string, outcome: string, runId: string, ttl: number) => Promise<[Buffer, Buffer?]>
type RenewScript = (claim: string, runId: string, ttl: number) => Promise<unknown>
type FinishScript = (claim: string, outcome: string, bytes: Buffer, ttl: number, notify: string, publish: string) => Promise<unknown>

interface Waiter {
  readonly settle: (claim: Claim) => void
}

const UNREACHABLE = { kind: 'refused', error: { code: ErrorCode.UNAVAILABLE, message: 'Redis is unreachable: the idempotent call was not run' } } as const satisfies Claim

/** The dedupe window in Redis: see this module's comment. */
export class RedisDedupe implements DedupeStore {
  deduplicated = 0
  /** Runs started here and not finished: bounded by `maxKeys` (they outlive their connection). */
  private running = 0
  /** Calls of this process waiting for a run elsewhere, by the pub/sub channel of their key. */
  private readonly waiting = new Map<string, Set<Waiter>>()
  private closed = false
  /** Gives back a claim taken for a call that ended meanwhile, without an outcome. */
  private readonly abandoners = new WeakMap<Claim, () => void>()

  constructor(
    private readonly links: DedupeLinks,
    private readonly options: IdempotencyOptions,
    private readonly pollMs: number,
  ) {}

  async claim(path: string, key: string): Promise<Claim> {
    const keys = dedupeKeysOf(this.links.prefix, path, key)
    if ((this.waiting.get(keys.notify)?.size ?? 0) >= this.options.maxWaitersPerKey) return { kind: 'full', reason: 'waiters' }
    if (this.running >= this.options.maxKeys) return { kind: 'full', reason: 'keys' }
    let first: Claim | 'running'
    try {
      first = await this.attempt(keys)
    } catch (error) {
      this.links.onError?.(error instanceof Error ? error : new Error(String(error)))
      return UNREACHABLE
    }
    if (first === 'running') return this.wait(keys)
    if (first.kind === 'done') this.deduplicated++
    return first
  }

  refusal(reason: 'keys' | 'waiters'): string {
    return reason === 'keys'
      ? `More than ${this.options.maxKeys} idempotent calls running`
      : `More than ${this.options.maxWaitersPerKey} calls wait for this key`
  }

  /** A publication on a channel the engine does not hold: maybe an outcome waited for here. */
  message(channel: string, bytes: Buffer): boolean {
    const waiters = this.waiting.get(channel)
    if (waiters === undefined) return false
    let outcome: Outcome
    try {
      outcome = unpack(bytes) as Outcome
    } catch {
      return true // the poll reads it from the key
    }
    for (const waiter of [...waiters]) waiter.settle({ kind: 'done', outcome })
    return true
  }

  /** The server is closing: waiting calls end (their connections are closing too). */
  close(): void {
    this.closed = true
    for (const waiters of [...this.waiting.values()]) for (const waiter of [...waiters]) waiter.settle(UNREACHABLE)
  }

  /** One claim-or-read round trip; 'running' when another run holds the key. */
  private async attempt(keys: DedupeKeys): Promise<Claim | 'running'> {
    const redis = await this.links.command()
    const script = (redis as unknown as Record<string, ClaimScript>).pbClaimBuffer as ClaimScript
    const id = this.links.runId()
    const [kind, bytes] = await script.call(redis, keys.claim, keys.outcome, id, this.options.windowMs)
    const answer = kind.toString('latin1')
    if (answer === 'done' && bytes !== undefined) {
      return { kind: 'done', outcome: unpack(bytes) as Outcome }
    }
    if (answer !== 'run') return 'running'
    this.running++
    let finished = false
    // A run longer than the window keeps its key: renewed every third of it, so only a claim
    // whose node died (or lost Redis) expires, within windowMs of its last renewal.
    const renew = setInterval(() => {
      this.links
        .command()
        .then((redis) => ((redis as unknown as Record<string, RenewScript>).pbRenew as RenewScript).call(redis, keys.claim, id, this.options.windowMs))
        .catch(() => undefined)
    }, this.options.windowMs / 3)
    renew.unref()
    const run: Claim = {
      kind: 'run',
      finish: (outcome) => {
        if (finished) return
        finished = true
        clearInterval(renew)
        this.running--
        this.store(keys, outcome).catch((error: unknown) => {
          // The outcome is lost: a retry waits until the claim expires, then runs again (§4.2).
          this.links.onError?.(error instanceof Error ? error : new Error(String(error)))
        })
      },
    }
    this.abandoners.set(run, () => {
      if (finished) return
      finished = true
      clearInterval(renew)
      this.running--
      this.links
        .command()
        .then((redis) => redis.del(keys.claim))
        .catch(() => undefined)
    })
    return run
  }

  private async store(keys: DedupeKeys, outcome: Outcome): Promise<void> {
    let bytes: Buffer
    try {
      bytes = pack(outcome)
    } catch {
      // The session answers such a result with this error too (§6).
      bytes = pack({ ok: false, error: { code: ErrorCode.INTERNAL, message: 'Result could not be encoded' } })
    }
    const redis = await this.links.command()
    const script = (redis as unknown as Record<string, FinishScript>).pbFinish as FinishScript
    await script.call(redis, keys.claim, keys.outcome, bytes, this.options.windowMs, keys.notify, this.links.publishCommand)
  }

  /**
   * Waits for the run holding the key: its outcome (published, or found by a poll), or the
   * key itself once the claim expired without one (its node died): then this call runs.
   * Bounded: past twice the window (claims taken again and again, never finished), or with
   * Redis unreachable, the call fails with UNAVAILABLE and nothing ran here.
   */
  private wait(keys: DedupeKeys): Promise<Claim> {
    if (this.closed) return Promise.resolve(UNREACHABLE)
    return new Promise((resolve) => {
      const deadline = Date.now() + 2 * this.options.windowMs
      let timer: ReturnType<typeof setTimeout> | undefined
      let settled = false
      const waiter: Waiter = {
        settle: (claim) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          const waiters = this.waiting.get(keys.notify)
          waiters?.delete(waiter)
          if (waiters?.size === 0) {
            this.waiting.delete(keys.notify)
            this.links.unlisten(keys.notify)
          }
          if (claim.kind === 'done') this.deduplicated++
          resolve(claim)
        },
      }
      const poll = (): void => {
        timer = undefined
        if (settled) return
        if (Date.now() > deadline) {
          waiter.settle({ kind: 'refused', error: { code: ErrorCode.UNAVAILABLE, message: 'The run of this idempotent call did not finish in time' } })
          return
        }
        this.attempt(keys).then(
          (claim) => {
            if (claim === 'running') {
              if (!settled) timer = setTimeout(poll, this.pollMs)
            } else if (settled && claim.kind === 'run') {
              // Claimed after this call ended (the server closing, or past the deadline):
              // given back, so another retry need not wait for it to expire.
              this.abandoners.get(claim)?.()
            } else waiter.settle(claim)
          },
          () => waiter.settle(UNREACHABLE),
        )
      }
      let waiters = this.waiting.get(keys.notify)
      if (waiters === undefined) {
        waiters = new Set()
        this.waiting.set(keys.notify, waiters)
      }
      waiters.add(waiter)
      const listening = this.links.listen(keys.notify)
      // The outcome may have been published before SUBSCRIBE took effect: a poll right after it.
      if (listening === undefined) timer = setTimeout(poll, this.pollMs)
      else listening.then(poll, () => (timer = setTimeout(poll, this.pollMs)))
    })
  }
}
