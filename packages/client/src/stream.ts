/**
 * A stream procedure as an AsyncIterable (docs/protocol.md §15): the client grants credit,
 * the server sends at most that many items, and credit is granted again only as the loop
 * takes items, so a slow `for await` slows the server's generator instead of filling memory.
 */
import { PatchbayError } from '@patchbay/core'
import { BAD_REQUEST, CANCELLED, CONNECTION_LOST } from './codes.js'
import type { Meta, RequestFields, RequestManager, Wire } from './request-manager.js'

/** Options of a stream. */
export interface StreamOptions {
  /** Aborting it ends the stream: the loop finishes without an error, the server's generator stops. */
  signal?: AbortSignal
  /**
   * Items the server may send ahead of the loop (the window). More means fewer round trips,
   * less means less memory held per stream.
   * @default 32
   */
  credit?: number
  /**
   * Start the stream again, with the same input, when the connection drops and the client
   * reconnects; the handler learns how many items this loop already received
   * (`resumed.received`) and may skip them. `false`: the loop fails with CONNECTION_LOST.
   * @default true
   */
  resubscribe?: boolean
}

/** What a stream needs from its client. */
export interface StreamHost {
  readonly requests: RequestManager
  isOpen(): boolean
  /** Sends a control message (credit) now; false if the socket is not open. */
  send(message: Wire): boolean
  /** The server broke the flow-control rules: close the connection as a violation. */
  violation(reason: string): void
  /** The connection dropped and another is coming (not closed for good). */
  willReconnect(): boolean
}

const DEFAULT_CREDIT = 32

/** Starts stream `path` with `input` and returns its items as an async iterator. */
export function openStream<T>(host: StreamHost, path: string, input: unknown, options: StreamOptions = {}): AsyncIterableIterator<T> {
  const window = options.credit ?? DEFAULT_CREDIT
  if (!Number.isSafeInteger(window) || window <= 0) throw new RangeError('stream credit must be a positive integer')
  const items: T[] = []
  /** Items the server may still send before it needs more credit. */
  let outstanding = window
  /** Items the loop took since credit was last granted. */
  let taken = 0
  let waiting: { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void } | undefined
  let failure: unknown
  let ended = false
  /** Items received over every connection of this stream, for a restart's `received`. */
  let received = 0
  const stop = new AbortController()
  const userSignal = options.signal
  const onUserAbort = (): void => finish()
  userSignal?.addEventListener('abort', onUserAbort, { once: true })

  /**
   * The one way the loop ends: a waiting `next()` gets the end (or `error`); items already
   * here are still delivered unless the consumer itself stopped.
   */
  const end = (error?: unknown): void => {
    ended = true
    userSignal?.removeEventListener('abort', onUserAbort)
    failure = error
    const pending = waiting
    waiting = undefined
    if (pending === undefined) return
    if (error === undefined) pending.resolve({ value: undefined, done: true })
    else pending.reject(error)
  }

  /** The consumer stopped (break, return, abort): cancel on the wire and drop what is here. */
  const finish = (): void => {
    if (ended) return
    items.length = 0
    end()
    // Aborting our own signal makes the request manager send `cancel` (if it was sent).
    stop.abort()
  }

  const onItem = (data: unknown): void => {
    if (ended) return
    if (outstanding <= 0) {
      host.violation(`stream ${path} sent more items than it was granted`)
      return
    }
    outstanding--
    received++
    if (waiting !== undefined) {
      const resolve = waiting.resolve
      waiting = undefined
      took()
      resolve({ value: data as T, done: false })
    } else items.push(data as T)
  }

  /** The loop took an item: grant credit back in batches of half the window. */
  const took = (): void => {
    taken++
    if (taken * 2 < window || ended) return
    if (request.id >= 0 && host.isOpen() && host.send([13, request.id, taken])) {
      outstanding += taken
      taken = 0
    }
  }

  let request: { id: number; promise: Promise<unknown> } = { id: -1, promise: Promise.resolve() }
  const begin = (restart: boolean): void => {
    outstanding = window
    taken = 0
    const data = { credit: window, received: restart ? received : undefined }
    request = host.requests.request('stream', streamMessage, path, input, data, { timeout: 0, signal: stop.signal }, host.isOpen(), onItem)
    request.promise.then(
      // The server ended it: items already here are still delivered, then the loop ends.
      () => ended || end(),
      (error: unknown) => {
        if (ended) return
        const code = error instanceof PatchbayError ? error.code : undefined
        if (code === CONNECTION_LOST && options.resubscribe !== false && host.willReconnect()) {
          // Queued until the next connection opens; the loop keeps waiting meanwhile.
          begin(true)
          return
        }
        end(code === CANCELLED ? undefined : error)
      },
    )
  }
  if (userSignal?.aborted) ended = true
  else begin(false)

  const iterator: AsyncIterableIterator<T> = {
    next(): Promise<IteratorResult<T>> {
      if (items.length > 0) {
        const value = items.shift() as T
        took()
        return Promise.resolve({ value, done: false })
      }
      if (failure !== undefined) {
        const error = failure
        failure = undefined
        return Promise.reject(error)
      }
      if (ended) return Promise.resolve({ value: undefined, done: true })
      if (waiting !== undefined) return Promise.reject(new PatchbayError(BAD_REQUEST, 'next() called again before the previous one settled'))
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject }
      })
    },
    return(): Promise<IteratorResult<T>> {
      finish()
      return Promise.resolve({ value: undefined, done: true })
    },
    [Symbol.asyncIterator]() {
      return iterator
    },
  }
  return iterator
}

/** A stream's message (§15): its credit, and on a restart the items already received. */
function streamMessage({ id, path, input, data }: RequestFields, meta: Meta): Wire {
  const { credit, received } = data as { credit: number; received: number | undefined }
  if (received !== undefined) (meta ??= {}).received = received
  return input === undefined ? [12, id, path, meta, credit] : [12, id, path, meta, credit, input]
}
