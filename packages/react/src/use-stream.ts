/**
 * useStream: a stream procedure of the typed client, read while the component is mounted.
 * The client grants credit as items are taken (docs/protocol.md §15); this hook takes each
 * item as it arrives, so the server runs as fast as the page renders and no faster than the
 * window allows. Unmounting, new input (by value) or `cancel()` ends the stream on the server.
 */
import { useMemo, useState } from 'react'
import type { PatchbayError } from '@patchbay/core'
import type { StreamOptions } from '@patchbay/client'
import { asPatchbayError } from './errors.js'
import { leaseKey } from './identity.js'
import { useLatest, useLease } from './lease.js'
import { Store, useTrackedStore } from './store.js'

/** A stream of the client: `client.ticks`. */
export type AnyClientStream = (input: never, options?: StreamOptions) => AsyncIterableIterator<unknown>

/** The items of a client stream. */
export type StreamItemOf<S extends AnyClientStream> = ReturnType<S> extends AsyncIterableIterator<infer T> ? T : never

/** The input of a client stream. */
export type StreamInputOf<S extends AnyClientStream> = Parameters<S>[0]

/** Options of useStream. */
export interface UseStreamOptions<T> {
  /**
   * `accumulate` keeps every item in `items`; `latest` keeps only `latest` (a gauge, a
   * progress bar), so a long stream holds no memory. In `accumulate` mode each change of the
   * result makes a new `items` array (one copy of every item so far), so for a stream of many
   * thousands of items, `latest` with `onItem` into a structure of your own costs less.
   * @default 'accumulate'
   */
  mode?: 'accumulate' | 'latest'
  /**
   * Items the server may send ahead of the page (the stream's window).
   * @default 32 (the client's)
   */
  credit?: number
  /**
   * Start again with the same input after a reconnect (the handler learns how many items were
   * received); false ends it with CONNECTION_LOST.
   * @default true (the client's)
   */
  resubscribe?: boolean
  /** Hears every item as it arrives, without rendering. The latest function is called. */
  onItem?: (item: T) => void
  /**
   * False runs no stream (and resets the result to `idle`).
   * @default true
   */
  enabled?: boolean
}

/** The arguments after the stream: input (omitted for a stream without input), then options. */
export type UseStreamArgs<S extends AnyClientStream> =
  undefined extends StreamInputOf<S>
    ? [input?: StreamInputOf<S>, options?: UseStreamOptions<StreamItemOf<S>>]
    : [input: StreamInputOf<S>, options?: UseStreamOptions<StreamItemOf<S>>]

/** Where a stream is: not running, running, ended by the server, cancelled here, failed. */
export type StreamStatus = 'idle' | 'streaming' | 'done' | 'cancelled' | 'error'

/** What useStream returns; reading a field subscribes the component to its changes. */
export interface StreamResult<T> {
  status: StreamStatus
  /**
   * Every item so far, oldest first (`accumulate`); empty in `latest` mode. A new array
   * whenever items were added (never changed in place), so it can be a memo or effect dependency.
   */
  items: readonly T[]
  /** The newest item. */
  latest: T | undefined
  /** Items received so far. */
  count: number
  /** Why it failed, when `status` is `error`. */
  error: PatchbayError | undefined
}

/** Members of the result that are not state. */
export interface StreamControls {
  /** Ends the stream now (the server's generator stops); `status` becomes `cancelled`. */
  cancel(): void
}

/**
 * The least time between two updates of a streaming result: about a frame at 60 Hz, so no
 * screen misses an update, and a flood of items costs a copy of `items` per frame, not per item.
 */
const UPDATE_INTERVAL_MS = 16

const idle: StreamResult<never> = { status: 'idle', items: [], latest: undefined, count: 0, error: undefined }

/**
 * Runs `stream(input)` while the component is mounted and `enabled`.
 *
 * Items are taken as they arrive (`onItem` hears each, in order), but `items`, `latest` and
 * `count` change together, in a macrotask after the items came and at most once every 16 ms
 * (about a frame): the items that arrive meanwhile land in one update, with one copy of
 * `items`, instead of a copy and a render per item. So a flood of items costs one copy of
 * `items` and one render per frame, and a stream of n items copies far fewer than the n²/2
 * elements a copy per item would. When the stream ends, the result holds every item in order,
 * the exact count and the final `status`, in one update.
 *
 * ```ts
 * const { items, status } = useStream(client.logs.tail, { service: 'api' }, { credit: 64 })
 * ```
 */
export function useStream<S extends AnyClientStream>(stream: S, ...args: UseStreamArgs<S>): StreamResult<StreamItemOf<S>> & StreamControls {
  type T = StreamItemOf<S>
  const [input, options = {}] = args as [unknown, UseStreamOptions<T> | undefined]
  const [store] = useState(() => new Store<StreamResult<T>>(idle))
  const [current] = useState(() => ({ cancel: (): void => {} }))
  const latest = useLatest(options)
  const enabled = options.enabled ?? true
  const { mode = 'accumulate', credit, resubscribe } = options
  const run = stream as unknown as (input: unknown, options: StreamOptions) => AsyncIterableIterator<T>
  // A change of mode, credit or resubscribe starts the stream again too.
  const key = enabled ? `${leaseKey(stream, input)}|${mode}|${credit ?? ''}|${String(resubscribe ?? '')}` : undefined
  useLease(
    key,
    (isCurrent) => {
      store.set({ ...idle, status: 'streaming' })
      const stop = new AbortController()
      let cancelled = false
      const streamOptions: StreamOptions = { signal: stop.signal }
      if (credit !== undefined) streamOptions.credit = credit
      if (resubscribe !== undefined) streamOptions.resubscribe = resubscribe
      const iterator = run(input, streamOptions)
      // Items are taken one by one (credit flows back as they are), but the result changes at
      // most once per macrotask and per UPDATE_INTERVAL_MS: a copy of `items` per item would make
      // a stream of n items copy n²/2 elements (and render n times). The first item after a
      // quiet spell still shows in the next macrotask.
      const items: T[] = []
      let count = 0
      let newest: T | undefined
      let flush: ReturnType<typeof setTimeout> | undefined
      let updatedAt = -Infinity
      /** What arrived since the result last changed; empty when nothing did. */
      const unpublished = (): Partial<StreamResult<T>> => {
        if (flush === undefined) return {}
        clearTimeout(flush)
        flush = undefined
        updatedAt = Date.now()
        return mode === 'accumulate' ? { items: items.slice(), latest: newest, count } : { latest: newest, count }
      }
      const publish = (): void => {
        if (isCurrent()) store.set(unpublished())
      }
      const end = (patch: Partial<StreamResult<T>>): void => {
        // The last items land with the status, so `done` holds every item and the exact count.
        if (isCurrent()) store.set({ ...unpublished(), ...patch })
      }
      void (async () => {
        try {
          for await (const item of iterator) {
            if (!isCurrent()) return
            count++
            newest = item
            if (mode === 'accumulate') items.push(item)
            flush ??= setTimeout(publish, Math.max(0, updatedAt + UPDATE_INTERVAL_MS - Date.now()))
            latest.current.onItem?.(item)
          }
          end({ status: cancelled ? 'cancelled' : 'done' })
        } catch (error) {
          end({ status: 'error', error: asPatchbayError(error) })
        }
      })()
      current.cancel = () => {
        if (!isCurrent() || store.get().status !== 'streaming') return
        cancelled = true
        stop.abort()
      }
      return {
        close: () => {
          clearTimeout(flush)
          flush = undefined
          stop.abort()
        },
      }
    },
    () => store.set(idle),
  )
  const controls = useMemo<StreamControls>(() => ({ cancel: () => current.cancel() }), [current])
  return useTrackedStore(store, controls)
}
