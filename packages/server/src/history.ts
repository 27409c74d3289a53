/**
 * `server.history`: the events a topic's channel still keeps, read from its engine, for an
 * application that shows what was said before (a chat's backlog) or pages through it. The
 * memory engine answers at once; an asynchronous engine (Redis) with a promise, so every
 * node reads the same history. docs/guide/topics.md, "History".
 */
import { ErrorCode, PatchbayError } from '@patchbay/core'
import type { Engine, HistoryRead } from './engine.js'

/** Options of `server.history`. */
export interface HistoryOptions {
  /**
   * Only events after this seq (of the epoch the answer names), oldest first: the first
   * `limit` of them, to page forward from the last seq seen.
   * @default none: the newest `limit` events
   */
  since?: number
  /**
   * At most this many events.
   * @default the topic's `history` (every event it keeps)
   */
  limit?: number
}

/** What `server.history` answers: the channel's position, and the events asked for that it still keeps. */
export interface TopicHistory<T> {
  /** The channel's epoch (docs/protocol.md §12.1): seqs, `since` included, are of this epoch. */
  readonly epoch: string
  /** The channel's latest seq (0 before any event). */
  readonly seq: number
  /** Oldest first. Fewer than asked when history no longer holds them (a gap shows in seq). */
  readonly events: readonly { readonly seq: number; readonly data: T }[]
}

function after<T, U>(value: T | Promise<T>, next: (value: T) => U | Promise<U>): U | Promise<U> {
  return value instanceof Promise ? value.then(next) : next(value)
}

function checked(value: number | undefined, name: string, min: number): number | undefined {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < min)) {
    throw new RangeError(`history: ${name} must be ${min === 0 ? 'a non-negative' : 'a positive'} integer, got ${String(value)}`)
  }
  return value
}

/** An asynchronous engine's read failure, as `server.publish` reports one: UNAVAILABLE, retryable. */
function unavailable(error: unknown): never {
  if (error instanceof PatchbayError) throw error
  throw new PatchbayError(ErrorCode.UNAVAILABLE, 'The topic engine is unavailable', { cause: error })
}

/** Reads `channel`'s kept events (`kept`: the topic's `history`) as `options` ask. */
export function readHistory(engine: Engine, channel: string, options: HistoryOptions, kept: number): TopicHistory<unknown> | Promise<TopicHistory<unknown>> {
  const since = checked(options.since, 'since', 0)
  const limit = checked(options.limit, 'limit', 1) ?? Math.max(kept, 1)
  const read = (from: number | undefined): HistoryRead | Promise<HistoryRead> => engine.read(channel, from)
  const answer = (result: HistoryRead, events: HistoryRead['publications']): TopicHistory<unknown> => ({
    epoch: result.top.epoch,
    seq: result.top.seq,
    events: events.map(({ seq, data }) => ({ seq, data })),
  })
  let result: TopicHistory<unknown> | Promise<TopicHistory<unknown>>
  if (since !== undefined) result = after(read(since), (got) => answer(got, got.publications.slice(0, limit)))
  else {
    // The newest `limit`: the top first, then what follows `top - limit`. Should the channel
    // start another epoch between the two reads, the second's events are all of that one.
    result = after(read(undefined), (top) => {
      if (top.top.seq === 0 || kept === 0) return answer(top, [])
      return after(read(Math.max(0, top.top.seq - limit)), (got) => {
        if (got.top.epoch === top.top.epoch) return answer(got, got.publications.slice(-limit))
        return after(read(0), (again) => answer(again, again.publications.slice(-limit)))
      })
    })
  }
  return result instanceof Promise ? result.catch(unavailable) : result
}
