/**
 * A topic as an AsyncIterable: `for await (const message of client.chat.room.iterate(params))`.
 * Leaving the loop, or aborting the signal, ends the subscription.
 */
import { ErrorCode, PatchbayError } from '@patchbay/core'
import type { Subscriptions, Unsubscribe } from './subscriptions.js'

/** Options of `iterate`. */
export interface IterateOptions {
  /** Aborting it ends the iteration (the loop finishes without an error). */
  signal?: AbortSignal
}

/**
 * Messages wait in a queue between arrivals and the loop's pulls. Its bound, and what to do
 * with a loop slower than the topic, belong to the backpressure work; today it grows.
 */
export function iterateTopic<T>(subscriptions: Subscriptions, path: string, params: unknown, options: IterateOptions = {}): AsyncIterableIterator<T> {
  const queue: T[] = []
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
      (message) => {
        if (done) return
        if (waiting !== undefined) {
          waiting.resolve({ value: message as T, done: false })
          waiting = undefined
        } else queue.push(message as T)
      },
      fail,
    )
  }

  const iterator: AsyncIterableIterator<T> = {
    next(): Promise<IteratorResult<T>> {
      if (queue.length > 0) return Promise.resolve({ value: queue.shift() as T, done: false })
      if (failure !== undefined) return Promise.reject(failure)
      if (done) return Promise.resolve({ value: undefined, done: true })
      if (waiting !== undefined) return Promise.reject(new PatchbayError(ErrorCode.BAD_REQUEST, 'next() called again before the previous one settled'))
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
