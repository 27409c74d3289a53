/**
 * Topic subscriptions of one client: one wire subscription per (topic, params) however many
 * local listeners, confirmed by the server before it counts as live, and ended on the wire
 * when its last listener leaves (docs/protocol.md §12).
 */
import { PatchbayError, canonicalJson, isSubscribedOutput, type EventMessage, type LagMessage, type RequestId, type ResumePoint, type SubscribedOutput } from '@patchbay/core'
import { CONNECTION_LOST, INTERNAL, UNAVAILABLE } from './codes.js'
import { backoffDelay } from './backoff.js'
import type { ClientLog } from './logger.js'
import { requestHead, type Meta, type RequestFields, type RequestManager, type Wire } from './request-manager.js'

/** What a listener learns besides the message. */
export interface EventMeta {
  /** The channel's sequence number of this message: consecutive unless messages were missed. */
  seq: number
}

/** A topic listener. */
export type TopicListener<T> = (message: T, meta: EventMeta) => void

/** Messages of a channel this subscriber did not get (docs/protocol.md §14). */
export interface LagEvent {
  /**
   * How many messages were missed; undefined when nobody can tell: the channel's sequence
   * restarted (a new epoch, docs/protocol.md §12.1): the subscription came back to a server
   * that had forgotten the channel, or the server's topic engine lost it under a live one.
   */
  missed: number | undefined
  /** The sequence number of the last message missed (in the channel's current sequence). */
  seq: number
}

/** Options of `subscribe`. */
export interface SubscribeOptions {
  /**
   * Hears of messages this client missed because it read too slowly: the server dropped or
   * conflated them (a `lag` notice, or a gap in the sequence numbers).
   */
  onLag?: (lag: LagEvent) => void
  /**
   * Hears the subscription end without `unsubscribe()`, once, after which no message comes:
   * the server refused it (`ready` rejects with the same error) or refused it again after a
   * reconnect, or the client ended (`close()`, a fatal close, reconnecting gave up:
   * CONNECTION_LOST). A reconnect the client rides out does not end it.
   */
  onEnd?: (error: PatchbayError) => void
  /**
   * Hears the subscription stop and start again around a reconnect the client rides out:
   * `false` when the connection under it dropped (no message can come while it is away), `true`
   * once the server has confirmed it again on the next connection (docs/protocol.md §12.1),
   * after any `onLag` for what was missed. Its first confirmation is `ready`, its end `onEnd`;
   * `live` on what `subscribe` returned says where it is now.
   */
  onLive?: (live: boolean) => void
}

/** Stops listening; `ready` settles when the server has confirmed (or refused) the subscription. */
export interface Unsubscribe {
  (): void
  /** Resolves once the subscription is live; rejects with FORBIDDEN, BAD_REQUEST, NOT_FOUND… */
  readonly ready: Promise<void>
  /**
   * True while the server has the subscription confirmed on the connection open now, so
   * messages can arrive; false before its first confirmation, while a reconnect restores it
   * (`onLive` hears both changes), and once it ended or was unsubscribed.
   */
  readonly live: boolean
}

interface WireSubscription {
  readonly key: string
  readonly path: string
  readonly params: unknown
  readonly listeners: Set<TopicListener<unknown>>
  /**
   * The listeners as an array, replaced (never changed) when one comes or goes: a delivery
   * iterates a stable snapshot without copying the Set for every event.
   */
  snapshot: readonly TopicListener<unknown>[]
  readonly ready: Promise<void>
  id: RequestId
  /** The channel's number while confirmed on the current connection (events carry it). */
  channel: number | undefined
  /** Seq of the last message delivered (starts at the seq the server confirmed with). */
  lastSeq: number
  /** The channel's sequence space that `lastSeq` belongs to. */
  epoch: string | undefined
  /** The server confirmed it at least once (so it is resubscribed after a reconnect). */
  confirmed: boolean
  /** Listeners that want to hear when the subscription ends for a reason other than unsubscribe. */
  readonly onEnd: Set<(error: PatchbayError) => void>
  /** Listeners that want to hear of missed messages. */
  readonly onLag: Set<(lag: LagEvent) => void>
  /** Listeners that want to hear it suspended by a reconnect and confirmed again. */
  readonly onLive: Set<(live: boolean) => void>
  ended: boolean
  /** Settles `ready`: resolved once the server confirmed, rejected when it refused for good. */
  readonly settle: { resolve: () => void; reject: (error: unknown) => void }
  /** A `sub` answered UNAVAILABLE waits to be sent again (§6): the timer, and attempts so far. */
  retry: ReturnType<typeof setTimeout> | undefined
  attempts: number
  /** The UNAVAILABLE that the pending retry answers, to settle `ready` with if it never runs. */
  retryError: PatchbayError | undefined
}

/** The subscription registry of a client. */
export class Subscriptions {
  private readonly byKey = new Map<string, WireSubscription>()
  private readonly byChannel = new Map<number, Set<WireSubscription>>()

  constructor(
    private readonly requests: RequestManager,
    private readonly isOpen: () => boolean,
    private readonly unsubscribeOnWire: (id: RequestId) => void,
    /** The server broke the protocol: close the connection (4400) with this reason. */
    private readonly violation: (reason: string) => void = () => {},
    /**
     * The wait before sending attempt `attempt` (1-based) of a `sub` that the server answered
     * UNAVAILABLE (its topic engine is down, §6). The client passes its reconnect backoff.
     * @default exponential backoff with full jitter from 250 ms, capped at 10 s
     */
    private readonly retryDelay: (attempt: number) => number = (attempt) => backoffDelay(attempt - 1, 250, 10_000),
    /** Where lag and listeners' exceptions are logged (logger.ts). @default nothing logged */
    private readonly log: ClientLog = {},
  ) {}

  /** Wire subscriptions held now (live or waiting for confirmation). */
  get size(): number {
    return this.byKey.size
  }

  /**
   * Adds `listener` to the wire subscription of (path, params), opening it if it is the first.
   * `onEnd` hears of a subscription ended by the connection closing, `onLive` of one suspended
   * by a reconnect and confirmed again (SubscribeOptions).
   */
  add(
    path: string,
    params: unknown,
    listener: TopicListener<unknown>,
    onEnd?: (error: PatchbayError) => void,
    onLag?: (lag: LagEvent) => void,
    onLive?: (live: boolean) => void,
  ): Unsubscribe {
    const key = params === undefined ? path : `${path}?${canonicalJson(params)}`
    let wire = this.byKey.get(key)
    if (wire === undefined) wire = this.open(key, path, params)
    const subscription = wire
    subscription.listeners.add(listener)
    subscription.snapshot = [...subscription.listeners]
    if (onEnd !== undefined) subscription.onEnd.add(onEnd)
    if (onLag !== undefined) subscription.onLag.add(onLag)
    if (onLive !== undefined) subscription.onLive.add(onLive)
    let removed = false
    const unsubscribe = (): void => {
      if (removed) return
      removed = true
      subscription.listeners.delete(listener)
      subscription.snapshot = [...subscription.listeners]
      if (onEnd !== undefined) subscription.onEnd.delete(onEnd)
      if (onLag !== undefined) subscription.onLag.delete(onLag)
      if (onLive !== undefined) subscription.onLive.delete(onLive)
      if (subscription.listeners.size === 0) this.close(subscription)
    }
    // A getter: a listener joining a subscription that a reconnect suspended reads false.
    const live = (): boolean => !removed && !subscription.ended && subscription.channel !== undefined
    return Object.defineProperty(Object.assign(unsubscribe, { ready: subscription.ready }), 'live', { get: live }) as Unsubscribe
  }

  /** An event arrived: hand it to every listener of its channel, in order. */
  handle(event: EventMessage): void {
    const subscriptions = this.byChannel.get(event.ch)
    if (subscriptions === undefined) return
    for (const subscription of subscriptions) {
      // Older than where this subscription started: it was published before we joined.
      if (event.seq <= subscription.lastSeq) continue
      // A gap: the server conflated or dropped messages for this slow connection (§14).
      if (event.seq > subscription.lastSeq + 1) this.lagged(subscription, event.seq - subscription.lastSeq - 1, event.seq - 1)
      subscription.lastSeq = event.seq
      const meta: EventMeta = { seq: event.seq }
      for (const listener of subscription.snapshot) {
        // One listener's bug must not cost the others their message, nor the client its connection.
        try {
          listener(event.data, meta)
        } catch (err) {
          this.log.error?.({ err, path: subscription.path, seq: event.seq }, `A listener of "${subscription.path}" threw; the exception was dropped`)
        }
      }
    }
  }

  /**
   * A lag notice arrived: messages through `seq` were dropped for this connection, or (with an
   * `epoch`) the channel's sequence restarted under it and the gap is unknown (§14).
   */
  handleLag(lag: LagMessage): void {
    const subscriptions = this.byChannel.get(lag.ch)
    if (subscriptions === undefined) return
    if ('epoch' in lag) {
      for (const subscription of subscriptions) {
        // Already in that epoch (the notice repeats what a result told): nothing was missed.
        if (subscription.epoch === lag.epoch) continue
        // The sequence state moves to the new epoch first, so a resume after a reconnect names it.
        subscription.epoch = lag.epoch
        subscription.lastSeq = lag.seq
        this.lagged(subscription, undefined, lag.seq)
      }
      return
    }
    for (const subscription of subscriptions) {
      if (lag.seq <= subscription.lastSeq) continue
      // The server counts what it dropped for this connection; a subscription that joined
      // after some of them were published missed fewer.
      this.lagged(subscription, Math.min(lag.missed, lag.seq - subscription.lastSeq), lag.seq)
      subscription.lastSeq = lag.seq
    }
  }

  private lagged(subscription: WireSubscription, missed: number | undefined, seq: number): void {
    // A lag can come often under load: nothing is built unless info is logged.
    if (this.log.isLevelEnabled?.('info') !== false) this.log.info?.({ path: subscription.path, missed, seq }, `Missed ${missed ?? 'an unknown number of'} messages of "${subscription.path}"`)
    for (const onLag of [...subscription.onLag]) onLag({ missed, seq })
  }

  /** The connection is gone: every subscription ends with `error`. */
  endAll(error: PatchbayError): void {
    const all = [...this.byKey.values()]
    this.byKey.clear()
    this.byChannel.clear()
    for (const subscription of all) {
      subscription.ended = true
      // A sub waiting to retry has no request the connection's end would reject.
      if (subscription.retry !== undefined) this.stopRetry(subscription, error)
      for (const onEnd of [...subscription.onEnd]) onEnd(error)
    }
  }

  /**
   * The connection dropped and a new one is coming: confirmed subscriptions keep their
   * listeners but stop listening to their old channel until `resubscribe`.
   */
  suspend(): void {
    this.byChannel.clear()
    const suspended: WireSubscription[] = []
    for (const subscription of this.byKey.values()) {
      if (subscription.channel === undefined) continue // not confirmed, or suspended already
      subscription.channel = undefined
      suspended.push(subscription)
    }
    // Told once every one is suspended, so a listener that looks at another sees it so too.
    for (const subscription of suspended) {
      for (const onLive of [...subscription.onLive]) onLive(false)
    }
  }

  /**
   * A new connection is open: subscribe again to every suspended subscription, each with a new
   * id, asking to resume after the last seq it saw (§12.1). The server replays what it still
   * holds, or confirms from its latest seq, and the gap (counted, or not if the epoch changed)
   * reaches `onLag`. A refusal now ends it with that error.
   *
   * The `sub`s go out ahead of every request queued meanwhile. Returns a promise that settles
   * once each has been answered (confirmed, refused, or lost with the connection), or
   * undefined when there was nothing to restore: the client holds its queue until then (§10).
   */
  resubscribe(): Promise<void> | undefined {
    const answered: Promise<unknown>[] = []
    for (const subscription of this.byKey.values()) {
      if (subscription.channel !== undefined || subscription.ended) continue
      if (!subscription.confirmed) continue // its first request is still queued, in flight or waiting to retry
      // A retry waiting from the last connection is this request now.
      clearTimeout(subscription.retry)
      subscription.retry = undefined
      answered.push(this.resubscribeOne(subscription))
    }
    return answered.length === 0 ? undefined : Promise.allSettled(answered).then(() => undefined)
  }

  /** Subscribes again to one confirmed subscription, resuming where it left off (§12.1); resolves with its answer. */
  private resubscribeOne(subscription: WireSubscription): Promise<unknown> {
    // Ask to resume where it left off: the server replays what it still holds (§12.1).
    const resume = subscription.epoch === undefined ? undefined : { epoch: subscription.epoch, seq: subscription.lastSeq }
    const confirm = (output: unknown): boolean => {
      if (!this.wellFormed(output)) return false
      if (subscription.ended) {
        this.unsubscribeOnWire(subscription.id)
        return true
      }
      const confirmed = output
      const before = { epoch: subscription.epoch, seq: subscription.lastSeq }
      this.attach(subscription, confirmed)
      if (confirmed.epoch === before.epoch) {
        // Same sequence: a resume (seq unchanged, the missed events follow) or a known gap.
        if (confirmed.seq > before.seq) this.lagged(subscription, confirmed.seq - before.seq, confirmed.seq)
      } else if (before.seq > 0 || confirmed.seq > 0) {
        // A new sequence (the server restarted): messages may have been lost, uncounted.
        this.lagged(subscription, undefined, confirmed.seq)
      }
      for (const onLive of [...subscription.onLive]) onLive(true)
      return true
    }
    // Attached synchronously with the result: replayed events follow it in the same chunk.
    const request = this.requests.request('sub', subMessage, subscription.path, subscription.params, resume, undefined, true, undefined, confirm, true)
    subscription.id = request.id
    return request.promise.then(
      () => {
        subscription.attempts = 0
      },
      (error: unknown) => {
        // Its connection dropped before the answer, and the client reconnects (the client's
        // end would have ended it first): still suspended, the next `resubscribe` asks again.
        if (lostWithConnection(error, subscription)) return
        if (!this.retryLater(subscription, error, () => this.resubscribeOne(subscription))) this.refused(subscription, error)
      },
    )
  }

  /**
   * A `sub` answered UNAVAILABLE (the server's topic engine is down, §6) is sent again after a
   * backoff, for as long as the subscription has listeners: a subscription is meant to outlive
   * an outage, as it outlives a reconnect. False for any other error (the caller refuses it).
   */
  private retryLater(subscription: WireSubscription, error: unknown, again: () => void): boolean {
    if (!(error instanceof PatchbayError) || error.code !== UNAVAILABLE || subscription.ended) return false
    subscription.attempts++
    subscription.retryError = error
    subscription.retry = setTimeout(() => {
      subscription.retry = undefined
      if (subscription.ended) return this.stopRetry(subscription, error)
      // A confirmed one whose connection dropped meanwhile is sent again by `resubscribe`.
      if (subscription.confirmed && !this.isOpen()) return
      again()
    }, this.retryDelay(subscription.attempts))
    return true
  }

  /** Drops a pending retry; `ready` (if it never settled) rejects with `error`. */
  private stopRetry(subscription: WireSubscription, error: unknown): void {
    clearTimeout(subscription.retry)
    subscription.retry = undefined
    subscription.settle.reject(error)
  }

  /** A sub result the subscription can be filed under; else the connection closes 4400 (§12). */
  private wellFormed(output: unknown): output is SubscribedOutput {
    if (isSubscribedOutput(output)) return true
    this.violation('sub result is not { ch, seq, epoch }')
    return false
  }

  /** The server refused (or the connection ended) a sub: the subscription ends with `error`. */
  private refused(subscription: WireSubscription, error: unknown): void {
    // Ended already (left by its listeners, or ended with the client): told once, not twice.
    if (subscription.ended) return
    // It leaves the registry so the next subscribe to the same key tries again.
    if (this.byKey.get(subscription.key) === subscription) this.byKey.delete(subscription.key)
    subscription.ended = true
    const failure = error instanceof PatchbayError ? error : new PatchbayError(INTERNAL, String(error))
    for (const onEnd of [...subscription.onEnd]) onEnd(failure)
  }

  private attach(subscription: WireSubscription, confirmed: SubscribedOutput): void {
    subscription.confirmed = true
    subscription.channel = confirmed.ch
    subscription.lastSeq = confirmed.seq
    subscription.epoch = confirmed.epoch
    let set = this.byChannel.get(confirmed.ch)
    if (set === undefined) {
      set = new Set()
      this.byChannel.set(confirmed.ch, set)
    }
    set.add(subscription)
  }

  private open(key: string, path: string, params: unknown): WireSubscription {
    let settle: WireSubscription['settle'] = { resolve: () => {}, reject: () => {} }
    const ready = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject }
    })
    const subscription: WireSubscription = {
      key,
      path,
      params,
      listeners: new Set(),
      snapshot: [],
      ready,
      id: -1,
      channel: undefined,
      lastSeq: 0,
      epoch: undefined,
      confirmed: false,
      onEnd: new Set(),
      onLag: new Set(),
      onLive: new Set(),
      ended: false,
      settle,
      retry: undefined,
      attempts: 0,
      retryError: undefined,
    }
    subscription.ready.catch((error: unknown) => this.refused(subscription, error))
    this.byKey.set(key, subscription)
    this.subscribeFirst(subscription)
    return subscription
  }

  /** Sends a subscription's first `sub` (again, after an UNAVAILABLE answer); `ready` settles with its answer. */
  private subscribeFirst(subscription: WireSubscription): void {
    const confirm = (output: unknown): boolean => {
      if (!this.wellFormed(output)) return false
      if (subscription.ended || subscription.listeners.size === 0) {
        // Everyone left before the server confirmed: end it on the wire now.
        this.unsubscribeOnWire(subscription.id)
        return true
      }
      // Synchronously with the result, so events right behind it in the same chunk find it.
      this.attach(subscription, output)
      return true
    }
    const request = this.requests.request('sub', subMessage, subscription.path, subscription.params, undefined, undefined, this.isOpen(), undefined, confirm)
    subscription.id = request.id
    request.promise.then(
      () => {
        subscription.attempts = 0
        subscription.settle.resolve()
      },
      (error: unknown) => {
        // Lost with a connection the client rides out: asked again on the next one (queued
        // until it opens), as a reconnect does not end a subscription (§10).
        if (lostWithConnection(error, subscription)) return this.subscribeFirst(subscription)
        if (!this.retryLater(subscription, error, () => this.subscribeFirst(subscription))) subscription.settle.reject(error)
      },
    )
  }

  private close(subscription: WireSubscription): void {
    if (this.byKey.get(subscription.key) === subscription) this.byKey.delete(subscription.key)
    if (subscription.ended) return
    subscription.ended = true
    // Waiting to retry: no sub is out, so nothing to end on the wire.
    if (subscription.retry !== undefined) return this.stopRetry(subscription, subscription.retryError)
    if (subscription.channel === undefined) return // still unconfirmed: `ready` sends the unsub
    const set = this.byChannel.get(subscription.channel)
    set?.delete(subscription)
    if (set?.size === 0) this.byChannel.delete(subscription.channel)
    this.unsubscribeOnWire(subscription.id)
  }
}

/** A subscribe's message (§12), with where a resubscription left off (§12.1). */
function subMessage({ id, path, input, data }: RequestFields, meta: Meta): Wire {
  if (data !== undefined) (meta ??= {}).resume = data as ResumePoint
  return input === undefined ? requestHead(7, id, path, meta) : [7, id, path, meta, input]
}

/**
 * True when a `sub` failed only because its connection dropped before the answer, while the
 * subscription lives on: the client is reconnecting (when it gives up, or is closed, it ends
 * every subscription before it fails the requests, so `ended` is set by then).
 */
function lostWithConnection(error: unknown, subscription: WireSubscription): boolean {
  return error instanceof PatchbayError && error.code === CONNECTION_LOST && !subscription.ended
}
