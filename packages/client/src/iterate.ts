/**
 * A topic as an AsyncIterable: `for await (const message of client.chat.room.iterate(params))`.
 * Leaving the loop, or aborting the signal, ends the subscription.
 */
import { PatchbayError } from '@patchbay/core'
import { BAD_REQUEST } from './codes.js'
import type { LagEvent, Subscriptions, Unsubscribe } from './subscriptions.js'

/** Options of `iterate`. */
export interface IterateOptions {
  /** Aborting it ends the iteration (the loop finishes without an error). */
  signal?: AbortSignal
  /**
   * Messages that may wait for a loop slower than the topic. When full, the oldest is
   * dropped and `onLag` hears of it: a topic's publisher cannot be slowed by one reader.
   * @default 1000
   */
  bufferSize?: number
  /** Hears of missed messages: dropped here (a full buffer) or by the server (§14). */
  onLag?: (lag: LagEvent) => void
}

/**
 * Messages wait in a bounded queue between arrivals and the loop's pulls; a topic cannot
 * wait for its slowest reader, so past `bufferSize` the oldest give way and are reported.
 */
export function iterateTopic<T>(subscriptions: Pick<Subscriptions, 'add'>, path: string, params: unknown, options: IterateOptions = {}): AsyncIterableIterator<T> {
  const bufferSize = options.bufferSize ?? 1000
  if (!Number.isSafeInteger(bufferSize) || bufferSize <= 0) throw new RangeError('iterate bufferSize must be a positive integer')
  const queue: { value: T; seq: number }[] = []
  let waiting: { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void } | undefined
  let failure: unknown
  let done = false
  let unsubscribe: Unsubscribe | undefined

  const finish = (): void => {
    if (done) return
    done = true
    unsubscribe?.()
    options.signal?.removeEventListener('abort', finish)
    waiting?.resolve({ value: undefined, done: true })
    waiting = undefined
  }
  const fail = (error: unknown): void => {
    if (done) return
    failure = error
    done = true
    options.signal?.removeEventListener('abort', finish)
    waiting?.reject(error)
    waiting = undefined
  }

  if (options.signal?.aborted) done = true
  else {
    options.signal?.addEventListener('abort', finish, { once: true })
    unsubscribe = subscriptions.add(
      path,
      params,
      (message, meta) => {
        if (done) return
        if (waiting !== undefined) {
          waiting.resolve({ value: message as T, done: false })
          waiting = undefined
          return
        }
        if (queue.length >= bufferSize) {
          const dropped = queue.shift() as { seq: number }
          options.onLag?.({ missed: 1, seq: dropped.seq })
        }
        queue.push({ value: message as T, seq: meta.seq })
      },
      fail,
      options.onLag,
    )
  }

  const iterator: AsyncIterableIterator<T> = {
    next(): Promise<IteratorResult<T>> {
      if (queue.length > 0) return Promise.resolve({ value: (queue.shift() as { value: T }).value, done: false })
      if (failure !== undefined) return Promise.reject(failure)
      if (done) return Promise.resolve({ value: undefined, done: true })
      if (waiting !== undefined) return Promise.reject(new PatchbayError(BAD_REQUEST, 'next() called again before the previous one settled'))
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject }
      })
    },
    return(): Promise<IteratorResult<T>> {
      queue.length = 0
      finish()
      return Promise.resolve({ value: undefined, done: true })
    },
    [Symbol.asyncIterator]() {
      return iterator
    },
  }
  return iterator
}
