/**
 * A stream of a caller (caller.ts): the server's own StreamRun drives the handler, with credit
 * granted back as the loop takes items, so a handler is pulled as far ahead as on a socket.
 */
import { ErrorCode, PatchbayError, type RequestId, type WireError } from '@patchbay/core'
import { StreamRun, type StreamHost } from '../streams.js'
import { cancelled, received, roundTrip, sendInput, type CallerScope, type CallerStreamOptions } from './caller.js'

/** The client's default credit window (docs/protocol.md §15). */
const DEFAULT_CREDIT = 32

type Waiter = { resolve: (result: IteratorResult<unknown>) => void; reject: (error: unknown) => void }

/** Opens stream `path` with `input`: its items as an async iterator. */
export function openStream(scope: CallerScope, path: string, input: unknown, options: CallerStreamOptions = {}): AsyncIterableIterator<unknown> {
  const credit = options.credit ?? DEFAULT_CREDIT
  if (!Number.isSafeInteger(credit) || credit <= 0) throw new RangeError('stream credit must be a positive integer')
  const items: unknown[] = []
  let failure: unknown
  let done = false
  let waiter: Waiter | undefined
  let run: StreamRun | undefined

  const settle = (): void => {
    const waiting = waiter
    if (waiting === undefined) return
    if (items.length > 0) {
      waiter = undefined
      run?.grant(1)
      waiting.resolve({ value: items.shift(), done: false })
    } else if (failure !== undefined) {
      // Rejected once; the iterator is done after it.
      const error = failure
      failure = undefined
      waiter = undefined
      waiting.reject(error)
    } else if (done) {
      waiter = undefined
      waiting.resolve({ value: undefined, done: true })
    }
  }
  const finish = (error: unknown): void => {
    if (done) return
    done = true
    failure = error
    settle()
  }
  const stop = (reason: unknown): void => {
    if (done) return
    // As the session does on a cancel (§15): the generator's `finally` runs, nothing more is sent.
    run?.cancel(new PatchbayError(ErrorCode.CANCELLED, 'The client cancelled the call'))
    items.length = 0
    finish(reason)
  }

  const host: StreamHost = {
    sendItem: (_id: RequestId, data: unknown) => {
      if (done) return false
      items.push(roundTrip(scope.codec, data))
      settle()
      return true
    },
    end: (_id: RequestId, error: WireError | undefined) => finish(error === undefined ? undefined : received(scope, error)),
    // No connection to congest: credit alone paces the handler.
    whenUncongested: (resume) => resume(),
  }

  const signal = options.signal
  const onAbort = (): void => stop(cancelled(signal?.reason))
  if (signal?.aborted === true) finish(cancelled(signal.reason))
  else {
    signal?.addEventListener('abort', onAbort, { once: true })
    const route = scope.config.streams.get(path)
    try {
      if (route === undefined) throw new PatchbayError(ErrorCode.NOT_FOUND, `No stream at "${path}"`)
      const wireInput = sendInput(scope, input)
      run = new StreamRun(scope.config, route, 1, credit, host, { path, connectionId: scope.connection.id }, () => signal?.removeEventListener('abort', onAbort))
      run.start(wireInput, scope.ctx, scope.connection)
    } catch (error) {
      finish(error)
    }
  }

  const iterator: AsyncIterableIterator<unknown> = {
    next: () =>
      new Promise<IteratorResult<unknown>>((resolve, reject) => {
        if (waiter !== undefined) return reject(new TypeError('next() called again before the previous one settled'))
        waiter = { resolve, reject }
        settle()
      }),
    return: () => {
      // Leaving the loop early ends the handler, as a client's cancel does.
      stop(undefined)
      items.length = 0
      return Promise.resolve({ value: undefined, done: true })
    },
    [Symbol.asyncIterator]: () => iterator,
  }
  return iterator
}
