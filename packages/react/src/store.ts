/**
 * A small external store read through useSyncExternalStore, with TanStack Query's "tracked
 * properties" rule: a component re-renders only when a field it has read changes. A hook that
 * returns the latest topic message therefore costs nothing per event to a component that only
 * reads `status` and handles events in `onMessage`.
 */
import { useCallback, useMemo, useState, useSyncExternalStore } from 'react'

type Listener<S> = (changed: ReadonlySet<keyof S>) => void

/** State held outside React; `set` tells listeners which fields changed. */
export class Store<S extends object> {
  private state: S
  private readonly listeners = new Set<Listener<S>>()

  constructor(initial: S) {
    this.state = initial
  }

  /** The current state: the same object until something changes (useSyncExternalStore requires it). */
  readonly get = (): S => this.state

  set(patch: Partial<S>): void {
    const changed = new Set<keyof S>()
    for (const key of Object.keys(patch) as (keyof S)[]) {
      if (!Object.is(patch[key], this.state[key])) changed.add(key)
    }
    if (changed.size === 0) return
    this.state = { ...this.state, ...patch }
    for (const listener of [...this.listeners]) listener(changed)
  }

  subscribe(listener: Listener<S>): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}

/**
 * Reads `store` in a component. The returned object records which fields the component reads
 * (in render or later); changes to other fields do not re-render it. `extra` holds members
 * that never change (functions such as `cancel`), added without tracking.
 */
export function useTrackedStore<S extends object, X extends object = object>(store: Store<S>, extra?: X): S & X {
  const [tracked] = useState(() => new Set<keyof S>())
  const subscribe = useCallback(
    (onChange: () => void) =>
      store.subscribe((changed) => {
        for (const key of changed) {
          if (tracked.has(key)) return onChange()
        }
      }),
    [store, tracked],
  )
  const state = useSyncExternalStore(subscribe, store.get, store.get)
  return useMemo(() => {
    const view = {} as S & X
    for (const key of Object.keys(state) as (keyof S & string)[]) {
      Object.defineProperty(view, key, {
        enumerable: true,
        get: () => {
          tracked.add(key)
          return state[key]
        },
      })
    }
    if (extra !== undefined) Object.assign(view, extra)
    return view
  }, [state, tracked, extra])
}
