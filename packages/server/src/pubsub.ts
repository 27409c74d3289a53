/**
 * The topic registry, runtime-free: channels, their subscribers and sequence numbers.
 * A publish builds the event once and encodes it once per codec in use, then hands the same
 * bytes to every subscriber of that codec (docs/protocol.md §12).
 */
import { ErrorCode, PatchbayError, type Codec, type EventMessage, type Frame } from '@patchbay/core'
import type { Delivery } from './outbound.js'

/** What the registry needs of a subscriber. */
export interface Subscriber {
  readonly codec: Codec
  /** Delivers event `seq` of channel number `ch`, already encoded, under the topic's backpressure policy. */
  deliver(frame: Frame, ch: number, seq: number, delivery: Delivery): void
}

/** How long a channel keeps its messages for subscribers that come back (docs/protocol.md §12.1). */
export interface Retention {
  /** Messages kept per channel for resuming subscribers; 0 keeps none. */
  readonly history: number
  /** Milliseconds a channel outlives its last subscriber. */
  readonly retainMs: number
}

/**
 * The server-wide bound on channels kept for returning subscribers (docs/protocol.md §12.1):
 * past either limit the channel left longest ago is forgotten first. Channels with
 * subscribers are never evicted (`maxSubscriptions` per connection bounds those).
 */
export interface RetentionLimits {
  /**
   * Channels kept without subscribers, at most.
   * @default 10_000
   */
  maxChannels: number
  /**
   * Bytes those channels may hold: their history (encoded event sizes) plus their names.
   * @default 33_554_432 (32 MiB)
   */
  maxBytes: number
}

/** The default {@link RetentionLimits}. */
export const DEFAULT_RETENTION_LIMITS: Readonly<RetentionLimits> = Object.freeze({ maxChannels: 10_000, maxBytes: 33_554_432 })

interface Entry {
  readonly seq: number
  readonly data: unknown
  /** Encoded size of its event frame. */
  readonly bytes: number
}

/** The last messages of a channel, oldest first, in a fixed-size ring. */
class History {
  private readonly entries: (Entry | undefined)[]
  private start = 0
  private size = 0
  /** Encoded bytes of the entries held. */
  bytes = 0

  constructor(private readonly capacity: number) {
    this.entries = new Array<undefined>(capacity)
  }

  /** Adds a message, pushing out the oldest when full; returns the change in bytes held. */
  push(seq: number, data: unknown, bytes: number): number {
    const at = (this.start + this.size) % this.capacity
    const before = this.bytes
    const old = this.entries[at]
    if (this.size === this.capacity && old !== undefined) this.bytes -= old.bytes
    this.entries[at] = { seq, data, bytes }
    this.bytes += bytes
    if (this.size < this.capacity) this.size++
    else this.start = (this.start + 1) % this.capacity
    return this.bytes - before
  }

  /** Messages after `seq`, if the ring still holds every one of them; else undefined. */
  since(seq: number, latest: number): { seq: number; data: unknown }[] | undefined {
    const missing = latest - seq
    if (missing <= 0) return []
    if (missing > this.size) return undefined
    const out: { seq: number; data: unknown }[] = []
    for (let i = this.size - missing; i < this.size; i++) {
      const entry = this.entries[(this.start + i) % this.capacity] as Entry
      out.push({ seq: entry.seq, data: entry.data })
    }
    return out
  }
}

interface Channel {
  /**
   * The channel's number on the wire (events and lag carry it, not the name): unique in this
   * process and never reused, so a number always means one incarnation of one channel.
   */
  readonly ch: number
  /** Number of the channel's latest message; the next publish gets seq + 1. */
  seq: number
  /** Names this incarnation of the channel: seqs of another epoch are not comparable. */
  readonly epoch: string
  /** Subscriber → how many of its subscriptions listen here (two params can validate alike). */
  readonly subscribers: Map<Subscriber, number>
  readonly history: History | undefined
  readonly retainMs: number
  /** Set while a channel waits, without subscribers, to be forgotten. */
  expiry: ReturnType<typeof setTimeout> | undefined
}

/** What a subscription starts with. */
export interface Subscribed {
  /** The channel's number, which its events carry. */
  ch: number
  /** Events continue from seq + 1. */
  seq: number
  epoch: string
  /** Events to send at once, right after the confirmation (a successful resume). */
  replay: { seq: number; data: unknown }[]
}

/** Counts for tests and monitoring. */
export interface PubSubStats {
  /** Channels held: with subscribers, or kept for returning ones (`retainMs`). */
  channels: number
  /** Subscriptions over all channels. */
  subscriptions: number
  /** Event frames encoded since start: one per codec in use per publish, whatever the audience. */
  encodes: number
  /** Subscriptions that resumed from history without a gap. */
  resumed: number
  /** Channels kept without subscribers now (for returning ones, §12.1). */
  retained: number
  /** Bytes those channels hold, as counted against `retention.maxBytes`. */
  retainedBytes: number
  /** Channels without subscribers forgotten before their `retainMs` because of `retention` limits, since start. */
  evictions: number
}

const utf8 = new TextEncoder()
/** Marks the second codec's frame of a publish as one that would not encode. */
const UNENCODABLE: Frame = new Uint8Array(0)

function byteLengthOf(frame: Frame): number {
  return typeof frame === 'string' ? frame.length : frame.byteLength
}

/**
 * A frame as bytes, ready for any number of sockets (text codecs send these as text frames);
 * a message that does not encode throws BAD_REQUEST.
 */
function encodeEvent(codec: Codec, message: EventMessage): Uint8Array {
  let frame: Frame
  try {
    frame = codec.encode(message)
  } catch {
    throw new PatchbayError(ErrorCode.BAD_REQUEST, 'Message could not be encoded')
  }
  return typeof frame === 'string' ? utf8.encode(frame) : frame
}

/** What a kept channel costs against `maxBytes`: its history and its name. */
function retainedBytesOf(name: string, channel: Channel): number {
  return name.length + (channel.history?.bytes ?? 0)
}

/** Channels by name. A channel exists while it has subscribers (or keeps history). */
export class PubSub {
  private readonly channels = new Map<string, Channel>()
  /**
   * Channels without subscribers, waiting for `retainMs` to pass, in the order they lost
   * their last subscriber (a Map keeps insertion order): the first is evicted first.
   */
  private readonly retained = new Map<string, Channel>()
  private retainedBytes = 0
  private evictions = 0
  private subscriptionCount = 0
  private encodes = 0
  private resumed = 0
  private incarnations = 0
  /** A codec to measure history entries of channels nobody listens to (any will do). */
  private sizer: Codec | undefined

  /** `instance` names this server process in every epoch, so a restart is always told apart. */
  constructor(
    private readonly instance: string,
    private readonly limits: RetentionLimits = DEFAULT_RETENTION_LIMITS,
  ) {}

  /**
   * Adds a subscription. With `resume` from this channel's epoch and the history to cover the
   * gap, events continue where the subscriber left off; otherwise from the latest.
   */
  subscribe(channelName: string, subscriber: Subscriber, retention: Retention, resume?: { epoch: string; seq: number }): Subscribed {
    let channel = this.channels.get(channelName)
    if (channel === undefined) {
      const ch = ++this.incarnations
      channel = {
        ch,
        seq: 0,
        epoch: `${this.instance}.${ch}`,
        subscribers: new Map(),
        history: retention.history > 0 ? new History(retention.history) : undefined,
        retainMs: retention.retainMs,
        expiry: undefined,
      }
      this.channels.set(channelName, channel)
    }
    if (channel.expiry !== undefined) {
      clearTimeout(channel.expiry)
      channel.expiry = undefined
    }
    if (this.retained.delete(channelName)) this.retainedBytes -= retainedBytesOf(channelName, channel)
    this.sizer ??= subscriber.codec
    channel.subscribers.set(subscriber, (channel.subscribers.get(subscriber) ?? 0) + 1)
    this.subscriptionCount++
    if (resume !== undefined && resume.epoch === channel.epoch && resume.seq <= channel.seq) {
      const replay = channel.history?.since(resume.seq, channel.seq) ?? (resume.seq === channel.seq ? [] : undefined)
      if (replay !== undefined) {
        this.resumed++
        return { ch: channel.ch, seq: resume.seq, epoch: channel.epoch, replay }
      }
    }
    return { ch: channel.ch, seq: channel.seq, epoch: channel.epoch, replay: [] }
  }

  /**
   * True when `resume` names this channel's current epoch with a seq it never reached: only a
   * confused or corrupt client can send that, so the subscription is refused (§12.1).
   */
  isAhead(channelName: string, resume: { epoch: string; seq: number }): boolean {
    const channel = this.channels.get(channelName)
    return channel !== undefined && resume.epoch === channel.epoch && resume.seq > channel.seq
  }

  /** Removes one subscription; the channel goes `retainMs` after its last subscriber. */
  unsubscribe(channelName: string, subscriber: Subscriber): void {
    const channel = this.channels.get(channelName)
    const count = channel?.subscribers.get(subscriber)
    if (channel === undefined || count === undefined) return
    this.subscriptionCount--
    if (count > 1) channel.subscribers.set(subscriber, count - 1)
    else channel.subscribers.delete(subscriber)
    if (channel.subscribers.size > 0) return
    // Kept a while (its seq, epoch and any history) so a subscriber that comes back resumes,
    // or at least learns exactly how many it missed (§12.1). A kept channel costs a few
    // hundred bytes plus its history.
    if (channel.retainMs <= 0) {
      this.channels.delete(channelName)
      return
    }
    const retained = channel
    retained.expiry = setTimeout(() => {
      if (this.channels.get(channelName) === retained && retained.subscribers.size === 0) this.forget(channelName, retained)
    }, retained.retainMs)
    // A channel waiting to be forgotten must not keep the process alive.
    ;(retained.expiry as { unref?: () => void }).unref?.()
    this.retained.set(channelName, retained)
    this.retainedBytes += retainedBytesOf(channelName, retained)
    this.enforceLimits()
  }

  /** Drops a channel without subscribers (its retention ran out, or it was evicted). */
  private forget(channelName: string, channel: Channel): void {
    clearTimeout(channel.expiry)
    this.channels.delete(channelName)
    if (this.retained.delete(channelName)) this.retainedBytes -= retainedBytesOf(channelName, channel)
  }

  /**
   * Evicts the channels that lost their subscribers longest ago until both limits hold: a
   * client churning through distinct channels must not pin memory for `retainMs` each. A
   * subscriber of an evicted channel that comes back finds another epoch (§12.1).
   */
  private enforceLimits(): void {
    while (this.retained.size > this.limits.maxChannels || this.retainedBytes > this.limits.maxBytes) {
      const oldest = this.retained.entries().next().value
      if (oldest === undefined) return
      this.forget(oldest[0], oldest[1])
      this.evictions++
    }
  }

  /**
   * Delivers `data` (already validated) to every subscriber of the channel, in publish order,
   * each under `delivery` (§14). Returns how many connections it was handed to.
   */
  publish(channelName: string, data: unknown, delivery: Delivery): number {
    const channel = this.channels.get(channelName)
    if (channel === undefined) return 0
    const ch = channel.ch
    const seq = channel.seq + 1
    const message: EventMessage = { t: 'event', ch, seq, data }
    // One frame per codec in use, made on first need: two codecs at most. A JSON frame is
    // turned into UTF-8 bytes here, once: sent as a string, ws would encode it per socket.
    let firstCodec: Codec | undefined
    let firstFrame: Frame | undefined
    let otherFrame: Frame | undefined
    for (const subscriber of channel.subscribers.keys()) {
      const codec = subscriber.codec
      if (firstCodec === undefined) {
        firstCodec = codec
        // Plain data (the callers check it) always encodes; should it not, the message is
        // refused before it takes a seq or reaches anyone.
        firstFrame = encodeEvent(codec, message)
        this.encodes++
      }
      if (codec === firstCodec) subscriber.deliver(firstFrame as Frame, ch, seq, delivery)
      else {
        if (otherFrame === undefined) {
          // Too late to refuse (the first codec's subscribers have it): those of this codec
          // miss it and see the gap in seq, as a lag (§12).
          try {
            otherFrame = encodeEvent(codec, message)
          } catch {
            otherFrame = UNENCODABLE
          }
          this.encodes++
        }
        if (otherFrame !== UNENCODABLE) subscriber.deliver(otherFrame, ch, seq, delivery)
      }
    }
    const history = channel.history
    // Counted at its encoded size: the frame made for the subscribers, else one made to
    // measure (a channel nobody listens to now; kept, so its bytes count toward maxBytes).
    // Measured before the seq is taken, so a message that does not encode takes none.
    const frame = history === undefined ? undefined : (firstFrame ?? (this.sizer === undefined ? undefined : encodeEvent(this.sizer, message)))
    channel.seq = seq
    if (history !== undefined) {
      const grown = history.push(seq, data, frame === undefined ? 0 : byteLengthOf(frame))
      if (channel.subscribers.size === 0 && this.retained.has(channelName)) {
        this.retainedBytes += grown
        this.enforceLimits()
      }
    }
    return channel.subscribers.size
  }

  get stats(): PubSubStats {
    return {
      channels: this.channels.size,
      subscriptions: this.subscriptionCount,
      encodes: this.encodes,
      resumed: this.resumed,
      retained: this.retained.size,
      retainedBytes: this.retainedBytes,
      evictions: this.evictions,
    }
  }

  /** Forgets every channel (the server is closing): no retention timer outlives it. */
  clear(): void {
    for (const channel of this.channels.values()) clearTimeout(channel.expiry)
    this.channels.clear()
    this.retained.clear()
    this.retainedBytes = 0
  }
}
