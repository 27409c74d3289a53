/**
 * One resource per hook instance (a subscription, a stream), opened by an effect and closed
 * when its key changes or the component unmounts, but one macrotask late: React's Strict Mode
 * runs every effect, its cleanup and the effect again in the same task, and a resource whose
 * close waits that long is picked up again by the second run instead of being closed and
 * opened anew. So one wire subscription, not two, and one stream, not a started-and-cancelled
 * one followed by another.
 */
import { useEffect, useLayoutEffect, useRef } from 'react'

/** What `open` returns: how to close what it opened. */
export interface Lease {
  close(): void
}

interface Held {
  readonly key: string
  lease: Lease | undefined
  timer: ReturnType<typeof setTimeout> | undefined
}

/**
 * The value of the latest committed render, for callbacks that outlive the render that made
 * them (a listener registered once must call this render's `onMessage`).
 */
export function useLatest<T>(value: T): { readonly current: T } {
  const ref = useRef(value)
  // A layout effect runs before every passive effect, so those see this render's value.
  useLayoutEffect(() => {
    ref.current = value
  })
  return ref
}

/**
 * Keeps `open(isCurrent)` open while `key` stays the same; undefined opens nothing and calls
 * `idle`. The resource must ignore its own events once `isCurrent()` is false: after the key
 * changed, the old one lives on for one macrotask. `open` may change on every render; the
 * latest is used.
 */
export function useLease(key: string | undefined, open: (isCurrent: () => boolean) => Lease, idle?: () => void): void {
  const held = useRef<Held | undefined>(undefined)
  const latestOpen = useLatest(open)
  const latestIdle = useLatest(idle)
  useEffect(() => {
    if (key === undefined) {
      held.current = undefined
      latestIdle.current?.()
      return
    }
    const release = (entry: Held) => () => {
      entry.timer = setTimeout(() => {
        entry.timer = undefined
        if (held.current === entry) held.current = undefined
        entry.lease?.close()
      }, 0)
    }
    const previous = held.current
    if (previous !== undefined && previous.key === key && previous.timer !== undefined) {
      // Strict Mode's second run (or a remount within the same task): keep what is open.
      clearTimeout(previous.timer)
      previous.timer = undefined
      return release(previous)
    }
    const entry: Held = { key, lease: undefined, timer: undefined }
    held.current = entry
    entry.lease = latestOpen.current(() => held.current === entry)
    return release(entry)
  }, [key, latestOpen, latestIdle])
}
