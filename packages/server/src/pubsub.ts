/**
 * The topic registry, runtime-free: channels, their subscribers and sequence numbers.
 * A publish builds the event once and encodes it once per codec in use, then hands the same
 * bytes to every subscriber of that codec (docs/protocol.md §12).
 */
import type { Codec, EventMessage, Frame } from '@patchbay/core'
import type { Delivery } from './outbound.js'

/** What the registry needs of a subscriber. */
export interface Subscriber {
  readonly codec: Codec
  /** Delivers event `seq` of `channel`, already encoded, under the topic's backpressure policy. */
  deliver(frame: Frame, channel: string, seq: number, delivery: Delivery): void
}

interface Channel {
  /** Number of the channel's latest message; the next publish gets seq + 1. */
  seq: number
  /** Subscriber → how many of its subscriptions listen here (two params can validate alike). */
  readonly subscribers: Map<Subscriber, number>
}

/** Counts for tests and monitoring. */
export interface PubSubStats {
  /** Channels with at least one subscriber. */
  channels: number
  /** Subscriptions over all channels. */
  subscriptions: number
  /** Event frames encoded since start: one per codec in use per publish, whatever the audience. */
  encodes: number
}

/** Channels by name. A channel exists while it has subscribers. */
export class PubSub {
  private readonly channels = new Map<string, Channel>()
  private subscriptionCount = 0
  private encodes = 0

  /** Adds a subscription; returns the channel's current seq (events follow from seq + 1). */
  subscribe(channelName: string, subscriber: Subscriber): number {
    let channel = this.channels.get(channelName)
    if (channel === undefined) {
      channel = { seq: 0, subscribers: new Map() }
      this.channels.set(channelName, channel)
    }
    channel.subscribers.set(subscriber, (channel.subscribers.get(subscriber) ?? 0) + 1)
    this.subscriptionCount++
    return channel.seq
  }

  /** Removes one subscription; the channel goes when its last subscriber does. */
  unsubscribe(channelName: string, subscriber: Subscriber): void {
    const channel = this.channels.get(channelName)
    const count = channel?.subscribers.get(subscriber)
    if (channel === undefined || count === undefined) return
    this.subscriptionCount--
    if (count > 1) channel.subscribers.set(subscriber, count - 1)
    else channel.subscribers.delete(subscriber)
    if (channel.subscribers.size === 0) this.channels.delete(channelName)
  }

  /**
   * Delivers `data` (already validated) to every subscriber of the channel, in publish order,
   * each under `delivery` (§14). Returns how many connections it was handed to.
   */
  publish(channelName: string, data: unknown, delivery: Delivery): number {
    const channel = this.channels.get(channelName)
    if (channel === undefined) return 0
    channel.seq++
    const message: EventMessage = { t: 'event', ch: channelName, seq: channel.seq, data }
    // One frame per codec in use, made on first need: two codecs at most.
    let firstCodec: Codec | undefined
    let firstFrame: Frame | undefined
    let otherFrame: Frame | undefined
    const seq = channel.seq
    for (const subscriber of channel.subscribers.keys()) {
      const codec = subscriber.codec
      if (firstCodec === undefined) {
        firstCodec = codec
        firstFrame = codec.encode(message)
        this.encodes++
      }
      if (codec === firstCodec) subscriber.deliver(firstFrame as Frame, channelName, seq, delivery)
      else {
        if (otherFrame === undefined) {
          otherFrame = codec.encode(message)
          this.encodes++
        }
        subscriber.deliver(otherFrame, channelName, seq, delivery)
      }
    }
    return channel.subscribers.size
  }

  get stats(): PubSubStats {
    return { channels: this.channels.size, subscriptions: this.subscriptionCount, encodes: this.encodes }
  }
}
