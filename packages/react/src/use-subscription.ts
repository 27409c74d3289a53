/**
 * useSubscription: a topic of the typed client, held while the component is mounted. The
 * client shares one wire subscription between listeners of the same topic and params and
 * restores it after a reconnect; this hook adds React's side: params compared by value,
 * Strict Mode's double effects kept to one subscription, and the latest message readable
 * without re-rendering components that only handle events.
 */
import { useState } from 'react'
import type { PatchbayError } from '@patchbay/core'
import { endpointOf, type EventMeta, type LagEvent, type TopicListener, type Unsubscribe } from '@patchbay/client'
import { asPatchbayError } from './errors.js'
import { leaseKey } from './identity.js'
import { useLatest, useLease } from './lease.js'
import { Store, useTrackedStore } from './store.js'

/** A topic of the client: `client.chat.room`. */
export interface AnyClientTopic {
  subscribe(...args: never[]): Unsubscribe
}

type SubscribeArgs<T extends AnyClientTopic> = T['subscribe'] extends (...args: infer A) => Unsubscribe ? A : never

/** The messages of a client topic. */
export type TopicMessageOf<T extends AnyClientTopic> =
  SubscribeArgs<T> extends [unknown, TopicListener<infer M>, ...unknown[]]
    ? M
    : SubscribeArgs<T> extends [TopicListener<infer M>, ...unknown[]]
      ? M
      : never

/** The params of a client topic; undefined for a topic without params. */
export type TopicParamsOf<T extends AnyClientTopic> = SubscribeArgs<T> extends [infer P, TopicListener<infer _M>, ...unknown[]] ? P : undefined

/** Options of useSubscription. */
export interface UseSubscriptionOptions<M> {
  /**
   * Hears every message, in order, without rendering: for logs, lists kept in a ref, toasts.
   * The latest function is called (no need to memoise it).
   */
  onMessage?: (message: M, meta: EventMeta) => void
  /** Hears of missed messages: a gap the server reported, or a resume across a server restart (`missed` undefined). */
  onLag?: (lag: LagEvent) => void
  /**
   * Hears the subscription fail: the server refused it (FORBIDDEN, BAD_REQUEST, NOT_FOUND…),
   * or it ended with the client (CONNECTION_LOST: `client.close()`, reconnecting gave up).
   */
  onError?: (error: PatchbayError) => void
  /**
   * False holds no subscription (and resets the result to `idle`).
   * @default true
   */
  enabled?: boolean
}

/** The arguments after the topic: params (omitted for a topic without params), then options. */
export type UseSubscriptionArgs<T extends AnyClientTopic> =
  undefined extends TopicParamsOf<T>
    ? [params?: TopicParamsOf<T>, options?: UseSubscriptionOptions<TopicMessageOf<T>>]
    : [params: TopicParamsOf<T>, options?: UseSubscriptionOptions<TopicMessageOf<T>>]

/**
 * Where a subscription is: none held (`idle`), sent and not yet confirmed (`pending`),
 * confirmed on the open connection (`live`), confirmed before but its connection dropped and
 * the client is restoring it (`reconnecting`: no message arrives until it is `live` again), or
 * refused or ended with the client (`error`).
 */
export type SubscriptionStatus = 'idle' | 'pending' | 'live' | 'reconnecting' | 'error'

/**
 * What useSubscription returns. Reading a field subscribes the component to its changes:
 * one that never reads `data` is not re-rendered by messages.
 */
export interface SubscriptionResult<M> {
  status: SubscriptionStatus
  /** The latest message since the subscription started with these params (kept while `reconnecting`). */
  data: M | undefined
  /** The channel sequence number of `data`. */
  seq: number | undefined
  /** The latest report of missed messages. */
  lag: LagEvent | undefined
  /** Why the subscription failed or ended, when `status` is `error`. */
  error: PatchbayError | undefined
}

const idle: SubscriptionResult<never> = { status: 'idle', data: undefined, seq: undefined, lag: undefined, error: undefined }

/** The runtime shape of both kinds of client topic. */
type Subscribe = (...args: unknown[]) => Unsubscribe

/**
 * Subscribes to `topic` with `params` while the component is mounted and `enabled`; new
 * params (by value) unsubscribe the old channel and subscribe the new one.
 *
 * ```ts
 * const { data } = useSubscription(client.chat.room, { room }, { onMessage: (m) => log(m) })
 * ```
 */
export function useSubscription<T extends AnyClientTopic>(topic: T, ...args: UseSubscriptionArgs<T>): SubscriptionResult<TopicMessageOf<T>> {
  type M = TopicMessageOf<T>
  const [params, options = {}] = args as [unknown, UseSubscriptionOptions<M> | undefined]
  const [store] = useState(() => new Store<SubscriptionResult<M>>(idle))
  const enabled = options.enabled ?? true
  const latest = useLatest(options)
  // A topic with params is subscribe(params, listener, options), one without subscribe(listener, options).
  const endpoint = endpointOf(topic)
  if (endpoint?.kind !== 'topic') throw new TypeError('useSubscription takes a topic of a Patchbay client (client.chat.room)')
  const { hasParams } = endpoint
  const subscribe = topic.subscribe as unknown as Subscribe
  useLease(enabled ? leaseKey(topic, params) : undefined, (isCurrent) => {
    store.set({ ...idle, status: 'pending' })
    const listener: TopicListener<M> = (message, meta) => {
      if (!isCurrent()) return
      store.set({ data: message, seq: meta.seq })
      latest.current.onMessage?.(message, meta)
    }
    const onLag = (lag: LagEvent): void => {
      if (!isCurrent()) return
      store.set({ lag })
      latest.current.onLag?.(lag)
    }
    // The client reports every end once through onEnd, a refusal included (`ready` rejects
    // with the same error): so a hook leaves `live` when the client closes under it.
    const onEnd = (error: unknown): void => {
      if (!isCurrent()) return
      const failure = asPatchbayError(error)
      store.set({ status: 'error', error: failure })
      latest.current.onError?.(failure)
    }
    // The client tells a confirmed subscription when a dropped connection suspends it and when
    // the server confirms it again on the next one (after any lag); until then nothing arrives,
    // so `live` would be a lie. Before its first confirmation, `ready` decides.
    const onLive = (live: boolean): void => {
      if (!isCurrent()) return
      const { status } = store.get()
      if (status === 'live' || status === 'reconnecting') store.set({ status: live ? 'live' : 'reconnecting' })
    }
    const subscribeOptions = { onLag, onEnd, onLive }
    const off = hasParams ? subscribe(params, listener, subscribeOptions) : subscribe(listener, subscribeOptions)
    // Joining a subscription another component holds, during a reconnect: confirmed once, not live now.
    off.ready.then(
      () => isCurrent() && store.get().status === 'pending' && store.set({ status: off.live ? 'live' : 'reconnecting' }),
      () => {},
    )
    return { close: off }
  }, () => store.set(idle))
  return useTrackedStore(store)
}
