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
  /** The link was found dead by its probe and is being restarted. */
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
      if (!this.closed) options.events.closed(this)
    })
  }

  get ready(): boolean {
    return this.link.ready
  }

  get probeChannel(): string {
    return this.options.probeChannel
  }

  /** Holds `channel` from now on: subscribed now if the link is ready, else once it is. */
  hold(channel: string): void {
    this.channels.add(channel)
    if (this.ready) (this.options.sharded ? this.redis.ssubscribe(channel) : this.redis.subscribe(channel)).catch(() => undefined)
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
    const subscribe = (names: string[]): Promise<unknown> => (this.options.sharded ? this.redis.ssubscribe(...names) : this.redis.subscribe(...names))
    const probing = subscribe([this.options.probeChannel]).then(() => {
      if (this.closed || !this.ready) return
      this.lastReceived = performance.now()
      this.arm()
    })
    const names = [...this.channels]
    const batches: Promise<unknown>[] = [probing]
    for (let at = 0; at < names.length; at += SUBSCRIBE_BATCH) batches.push(subscribe(names.slice(at, at + SUBSCRIBE_BATCH)))
    Promise.all(batches).then(
      () => {
        if (again && !this.closed) this.options.events.resubscribed()
      },
      // The connection dropped again: its next 'ready' starts over.
      () => undefined,
    )
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

  /**
   * Destroys the socket rather than ending it: on a dead route a FIN gets no answer either, and
   * `close` (then ioredis's reconnect) must come now.
   */
  private restart(reason: string): void {
    this.probing = false
    clearTimeout(this.idleTimer)
    this.idleTimer = undefined
    this.options.events.dead(new RedisEngineError(reason))
    this.redis.stream.destroy()
  }
}
