/**
 * One subscriber connection: to the single Redis server (SUBSCRIBE), or to one master of a
 * Redis Cluster (SSUBSCRIBE, sharded pub/sub). It owns the set of pub/sub channels it holds,
 * re-subscribes them itself in batches after every reconnect (ioredis's `autoResubscribe` is
 * off, so the engine knows *when* to look for gaps), and checks its own liveness.
 *
 * Liveness (Centrifuge's probe, scale-out-research.md): a TCP connection can stay open while
 * nothing travels on it (a dead NAT entry, a half-open route, a Redis that lost our
 * subscription): no error, no close, just silence, and a subscriber would miss every
 * publication until the next one that reveals a gap. So a link that received nothing for
 * `probeIntervalMs` publishes a probe to its own service channel through the command
 * connection; when neither the probe nor anything else came back within `probeTimeoutMs`, or
 * Redis counts no receiver for it, the link is dead: its socket is destroyed, ioredis
 * reconnects it, every held channel is subscribed again and the engine resyncs the feeds,
 * which repair the gap from the streams. A dead link is noticed at most `probeIntervalMs +
 * probeTimeoutMs` after the last message it received.
 *
 * A (S)SUBSCRIBE that fails while the connection stays up (most plainly a reply slower than
 * `commandTimeoutMs` from a loaded Redis; or an error reply) is not the connection dropping:
 * no 'ready' follows, so nothing would subscribe the channel again or repair its gap. The link
 * is then restarted as a dead one is, rather than the batch retried on the same connection:
 * after a timeout Redis may or may not have subscribed and may still answer, while a fresh
 * connection is a known state, and its path (reconnect, every channel subscribed, resync) is
 * the one the probe already takes. It covers the probe channel too, whose failed subscribe
 * would otherwise leave the link unprobed. Bounded: the n-th failure in a row (no full
 * re-subscribe confirmed since) restarts after (2^(n−1) − 1) × `commandTimeoutMs`, at most
 * `probeIntervalMs`: the first at once, then one attempt every 2, 4, 8 … timeouts, so a Redis
 * that is merely slow gets no restart loop. Each failure goes to `onError` when it happens.
 */
import type { Redis } from 'ioredis'
import { Link, RedisEngineError } from './link.js'

/** Channels sent in one (S)SUBSCRIBE after a reconnect (Centrifuge batches 512 as well). */
const SUBSCRIBE_BATCH = 512

/** What a subscriber link tells the engine. */
export interface SubscriberEvents {
  /** A publication on one of its channels. */
  message(channel: string, message: Buffer): void
  /** Ready again after a reconnect, every held channel subscribed again: look for gaps. */
  resubscribed(): void
  /** The connection of `link` closed: publications in flight on it will not come. */
  closed(link: SubscriberLink): void
  /** The link was found dead by its probe, or a subscribe on it failed while it was up: it is being restarted (at once, or after a backoff). */
  dead(error: RedisEngineError): void
}

/** How a subscriber link is made and probed. */
export interface SubscriberOptions {
  /** `true`: SSUBSCRIBE and `smessage` (a Cluster master); `false`: SUBSCRIBE and `message`. */
  readonly sharded: boolean
  /** Its service channel: only this link subscribes to it (on a cluster, in a slot of its master). */
  readonly probeChannel: string
  /** Publishes `token` on the probe channel (through the command connection); resolves with Redis's receiver count. */
  readonly probe: (channel: string, token: string) => Promise<number>
  readonly probeIntervalMs: number
  readonly probeTimeoutMs: number
  /** The connection's command timeout: the step of the restart backoff after failed subscribes. */
  readonly commandTimeoutMs: number
  readonly events: SubscriberEvents
}

export class SubscriberLink {
  readonly link: Link<Redis>
  /** Pub/sub channels held on this connection (besides the probe channel). */
  readonly channels = new Set<string>()
  private readyBefore = false
  private lastReceived = 0
  private idleTimer: ReturnType<typeof setTimeout> | undefined
  private probes = 0
  /** A probe is out and its timeout runs. */
  private probing = false
  private closed = false
  /** Counts 'ready's: an answer to a subscribe sent before the last one is about an old connection. */
  private generation = 0
  /** Re-subscribes after a 'ready' that failed in a row (reset by one that succeeded). */
  private failures = 0
  /** A restart after a failed subscribe, waiting out its backoff. */
  private restartTimer: ReturnType<typeof setTimeout> | undefined
  /** Channels held while ready, subscribed together at the end of the current task. */
  private readonly pending = new Set<string>()

  constructor(
    readonly redis: Redis,
    private readonly options: SubscriberOptions,
  ) {
    this.link = new Link(redis)
    const event = options.sharded ? 'smessageBuffer' : 'messageBuffer'
    // One listener for every channel of the connection, dispatching by name.
    redis.on(event, (channel: Buffer, message: Buffer) => this.received(channel, message))
    redis.on('ready', () => this.onReady())
    redis.on('close', () => {
      clearTimeout(this.idleTimer)
      this.idleTimer = undefined
      // The reconnect subscribes everything again: a pending restart would only cut it.
      clearTimeout(this.restartTimer)
      this.restartTimer = undefined
      if (!this.closed) options.events.closed(this)
    })
  }

  get ready(): boolean {
    return this.link.ready
  }

  get probeChannel(): string {
    return this.options.probeChannel
  }

  /**
   * Holds `channel` from now on: subscribed once it is ready, or, when it is, in one batch with
   * the other channels held in the same task; the feeds resync once Redis confirmed the batch
   * (a failure restarts the link, see above).
   */
  hold(channel: string): void {
    this.channels.add(channel)
    if (!this.ready) return
    if (this.pending.size === 0) queueMicrotask(() => this.subscribePending())
    this.pending.add(channel)
  }

  /** Subscribes to `channel`; resolves once Redis confirmed it, fails at once while the connection is down. */
  async subscribe(channel: string, timeoutMs: number): Promise<void> {
    this.channels.add(channel)
    try {
      await this.link.whenReady(timeoutMs)
      await (this.options.sharded ? this.redis.ssubscribe(channel) : this.redis.subscribe(channel))
    } catch (error) {
      this.channels.delete(channel)
      throw error
    }
  }

  /** Unsubscribes from `channel` (at once when down: the reconnect will not subscribe it again). */
  unsubscribe(channel: string): Promise<unknown> {
    this.channels.delete(channel)
    if (!this.ready) return Promise.resolve()
    return this.options.sharded ? this.redis.sunsubscribe(channel) : this.redis.unsubscribe(channel)
  }

  /** Closes the connection for good. */
  close(): void {
    this.closed = true
    clearTimeout(this.idleTimer)
    clearTimeout(this.restartTimer)
    // disconnect(), not QUIT: no round trip to a Redis that may be gone. The error listeners
    // stay attached, so a late error cannot become an unhandled 'error' event.
    this.redis.disconnect()
  }

  private received(channel: Buffer, message: Buffer): void {
    this.lastReceived = performance.now()
    const name = channel.toString('latin1')
    if (name !== this.options.probeChannel) this.options.events.message(name, message)
    // The probe came back: the next one is due an interval from now, not after its timeout.
    else if (this.probing) this.arm()
  }

  /**
   * (Re)connected: the probe channel, then every held channel, subscribed again in batches.
   * Probing starts once the probe channel is confirmed (a probe before that would find no
   * receiver and restart a healthy link).
   */
  private onReady(): void {
    if (this.closed) return
    const again = this.readyBefore
    this.readyBefore = true
    const generation = ++this.generation
    // Holds of the last connection are in `channels`: subscribed below.
    this.pending.clear()
    const probing = this.send([this.options.probeChannel]).then(() => {
      if (this.closed || generation !== this.generation || !this.ready) return
      this.lastReceived = performance.now()
      this.arm()
    })
    this.confirm([probing, ...this.batches([...this.channels])], again, true)
  }

  /** The channels held while ready since the last task, subscribed in batches. */
  private subscribePending(): void {
    const names = [...this.pending].filter((channel) => this.channels.has(channel))
    this.pending.clear()
    // Not ready (any more): the next 'ready' subscribes them with the rest.
    if (this.closed || !this.ready || names.length === 0) return
    this.confirm(this.batches(names), true, false)
  }

  /** (S)SUBSCRIBEs of `names`, at most SUBSCRIBE_BATCH channels each. */
  private batches(names: readonly string[]): Promise<unknown>[] {
    const batches: Promise<unknown>[] = []
    for (let at = 0; at < names.length; at += SUBSCRIBE_BATCH) batches.push(this.send(names.slice(at, at + SUBSCRIBE_BATCH)))
    return batches
  }

  private send(names: readonly string[]): Promise<unknown> {
    return this.options.sharded ? this.redis.ssubscribe(...names) : this.redis.subscribe(...names)
  }

  /**
   * Once every batch is confirmed: the feeds resync (`resync`). A batch rejected while this very
   * connection is still up (no close, no new 'ready' since) is not the connection dropping, which
   * its next 'ready' repairs, and must not pass in silence: the link is restarted.
   */
  private confirm(batches: readonly Promise<unknown>[], resync: boolean, whole: boolean): void {
    const generation = this.generation
    Promise.all(batches).then(
      () => {
        if (this.closed || generation !== this.generation) return
        if (whole) this.failures = 0
        if (resync) this.options.events.resubscribed()
      },
      (error: unknown) => {
        if (this.closed || generation !== this.generation || !this.ready) return
        this.failed(error)
      },
    )
  }

  /** A subscribe failed on a live connection: reported now, restarted after the backoff (see above). */
  private failed(error: unknown): void {
    if (this.restartTimer !== undefined) return
    const failures = ++this.failures
    const delay = Math.min(this.options.probeIntervalMs, this.options.commandTimeoutMs * (2 ** Math.min(failures - 1, 30) - 1))
    const cause = error instanceof Error ? error.message : String(error)
    this.options.events.dead(
      new RedisEngineError(`A subscribe on the subscriber connection failed while it stayed up (${cause}): restarting it${delay > 0 ? ` in ${delay} ms` : ''}`, {
        cause: error,
      }),
    )
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined
      if (!this.closed && this.ready) this.destroy()
    }, delay)
    this.restartTimer.unref()
  }

  /** Wakes up `probeIntervalMs` after the last message received. */
  private arm(): void {
    this.probing = false
    clearTimeout(this.idleTimer)
    const wait = Math.max(0, this.lastReceived + this.options.probeIntervalMs - performance.now())
    this.idleTimer = setTimeout(() => this.idle(), wait)
    this.idleTimer.unref()
  }

  private idle(): void {
    this.idleTimer = undefined
    if (this.closed || !this.ready) return
    if (performance.now() - this.lastReceived < this.options.probeIntervalMs) {
      this.arm()
      return
    }
    const sentAt = performance.now()
    // 'sent': Redis took the probe for at least one receiver; 'failed': the command connection
    // could not publish it, which says nothing of this link (judged again an interval later).
    let outcome: 'pending' | 'sent' | 'failed' = 'pending'
    this.options.probe(this.options.probeChannel, `${++this.probes}`).then(
      (receivers) => {
        outcome = 'sent'
        // Redis no longer counts this connection as a subscriber: as dead as a silent one.
        if (receivers === 0 && this.probing && this.lastReceived < sentAt) this.restart("Redis lost the subscriber connection's subscriptions")
      },
      () => {
        outcome = 'failed'
      },
    )
    this.probing = true
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined
      this.probing = false
      if (this.closed || !this.ready) return
      if (this.lastReceived < sentAt && outcome === 'sent') {
        this.restart(`The subscriber connection received nothing, its probe included, for ${Math.round(performance.now() - this.lastReceived)} ms`)
      } else this.arm()
    }, this.options.probeTimeoutMs)
    this.idleTimer.unref()
  }

  private restart(reason: string): void {
    this.options.events.dead(new RedisEngineError(reason))
    this.destroy()
  }

  /**
   * Destroys the socket rather than ending it: on a dead route a FIN gets no answer either, and
   * `close` (then ioredis's reconnect) must come now.
   */
  private destroy(): void {
    this.probing = false
    clearTimeout(this.idleTimer)
    this.idleTimer = undefined
    clearTimeout(this.restartTimer)
    this.restartTimer = undefined
    this.redis.stream.destroy()
  }
}
