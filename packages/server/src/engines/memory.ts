/**
 * The memory engine, the default: channels live in this process, a publish reaches this
 * process's subscribers only. Synchronous throughout, so `server.publish` and `sub` keep
 * their single-step path (engine.ts). It keeps each channel's seq, epoch and history ring,
 * and bounds the channels kept for returning subscribers (docs/protocol.md §12.1).
 */
import { nanoid } from 'nanoid'
import type { ChannelOptions, EngineHandler, EngineStats, HistoryRead, Position, Publication, SyncEngine } from '../engine.js'

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

/** Options of {@link createMemoryEngine}. */
export interface MemoryEngineOptions {
  /**
   * The bound on channels kept for returning subscribers (each topic's `retainMs`).
   * @default DEFAULT_RETENTION_LIMITS ({ maxChannels: 10_000, maxBytes: 33_554_432 })
   */
  retention?: Partial<RetentionLimits>
  /**
   * Names this process in every epoch (`<instance>.<n>`), so a restart is always told apart.
   * @default a random 10-character id
   */
  instance?: string
}

interface Entry extends Publication {
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

  /** The messages after `seq` that the ring still holds (the latest is `latest`), oldest first. */
  since(seq: number, latest: number): Publication[] {
    const wanted = Math.min(latest - seq, this.size)
    const out: Publication[] = []
    for (let i = this.size - wanted; i < this.size; i++) {
      const entry = this.entries[(this.start + i) % this.capacity] as Entry
      out.push({ seq: entry.seq, data: entry.data })
    }
    return out
  }
}

interface Channel {
  seq: number
  readonly epoch: string
  readonly history: History | undefined
  readonly retainMs: number
  /** Held by the server (it has subscribers); false while kept for returning ones. */
  held: boolean
  /** Set while a channel waits, without subscribers, to be forgotten. */
  expiry: ReturnType<typeof setTimeout> | undefined
}

/** What a kept channel costs against `maxBytes`: its history and its name. */
function retainedBytesOf(name: string, channel: Channel): number {
  return name.length + (channel.history?.bytes ?? 0)
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${String(value)}`)
  return value
}

class MemoryEngine implements SyncEngine {
  readonly synchronous = true
  private readonly channels = new Map<string, Channel>()
  /**
   * Channels without subscribers, waiting for `retainMs` to pass, in the order they lost
   * their last subscriber (a Map keeps insertion order): the first is evicted first.
   */
  private readonly retained = new Map<string, Channel>()
  private retainedBytes = 0
  private evictions = 0
  private incarnations = 0
  private handler: EngineHandler | undefined

  constructor(
    private readonly instance: string,
    private readonly limits: RetentionLimits,
  ) {}

  start(handler: EngineHandler): void {
    if (this.handler !== undefined) throw new TypeError('This memory engine already serves a server; create one per server')
    this.handler = handler
  }

  subscribe(name: string, options: ChannelOptions): void {
    let channel = this.channels.get(name)
    if (channel === undefined) {
      channel = {
        seq: 0,
        epoch: `${this.instance}.${++this.incarnations}`,
        history: options.history > 0 ? new History(options.history) : undefined,
        retainMs: options.retainMs,
        held: true,
        expiry: undefined,
      }
      this.channels.set(name, channel)
      return
    }
    channel.held = true
    if (channel.expiry !== undefined) {
      clearTimeout(channel.expiry)
      channel.expiry = undefined
    }
    if (this.retained.delete(name)) this.retainedBytes -= retainedBytesOf(name, channel)
  }

  unsubscribe(name: string): void {
    const channel = this.channels.get(name)
    if (channel === undefined || !channel.held) return
    channel.held = false
    // Kept a while (its seq, epoch and any history) so a subscriber that comes back resumes,
    // or at least learns exactly how many it missed (§12.1). A kept channel costs a few
    // hundred bytes plus its history.
    if (channel.retainMs <= 0) {
      this.channels.delete(name)
      return
    }
    const retained = channel
    retained.expiry = setTimeout(() => {
      if (this.channels.get(name) === retained && !retained.held) this.forget(name, retained)
    }, retained.retainMs)
    // A channel waiting to be forgotten must not keep the process alive.
    ;(retained.expiry as { unref?: () => void }).unref?.()
    this.retained.set(name, retained)
    this.retainedBytes += retainedBytesOf(name, retained)
    this.enforceLimits()
  }

  publish(name: string, data: unknown): Position | undefined {
    const channel = this.channels.get(name)
    if (channel === undefined) return undefined
    const publication: Publication = { seq: ++channel.seq, data }
    const handler = this.handler as EngineHandler
    if (channel.held) handler.publication(name, channel.epoch, publication)
    const history = channel.history
    if (history !== undefined) {
      // Counted at its encoded size, which PubSub knows from the frame it just made.
      const grown = history.push(publication.seq, data, handler.measure(name, publication))
      if (!channel.held && this.retained.has(name)) {
        this.retainedBytes += grown
        this.enforceLimits()
      }
    }
    return { epoch: channel.epoch, seq: publication.seq }
  }

  read(name: string, since: number | undefined): HistoryRead {
    const channel = this.channels.get(name)
    // Only held channels are read; a forgotten one would be a new epoch at 0.
    if (channel === undefined) return { top: { epoch: `${this.instance}.${++this.incarnations}`, seq: 0 }, publications: [] }
    const top = { epoch: channel.epoch, seq: channel.seq }
    if (since === undefined || since >= channel.seq || channel.history === undefined) return { top, publications: [] }
    return { top, publications: channel.history.since(Math.max(since, 0), channel.seq) }
  }

  get stats(): EngineStats {
    return {
      state: 'up',
      channels: this.channels.size,
      retained: this.retained.size,
      retainedBytes: this.retainedBytes,
      evictions: this.evictions,
    }
  }

  close(): void {
    for (const channel of this.channels.values()) clearTimeout(channel.expiry)
    this.channels.clear()
    this.retained.clear()
    this.retainedBytes = 0
  }

  /** Drops a channel without subscribers (its retention ran out, or it was evicted). */
  private forget(name: string, channel: Channel): void {
    clearTimeout(channel.expiry)
    this.channels.delete(name)
    if (this.retained.delete(name)) this.retainedBytes -= retainedBytesOf(name, channel)
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
}

/**
 * Creates the memory engine: channels, their seqs and history in this process (the default
 * engine of `createServer`). One engine serves one server.
 */
export function createMemoryEngine(options: MemoryEngineOptions = {}): SyncEngine {
  const limits = { ...DEFAULT_RETENTION_LIMITS, ...options.retention }
  for (const key of ['maxChannels', 'maxBytes'] as const) positiveInteger(limits[key], `retention.${key}`)
  return new MemoryEngine(options.instance ?? nanoid(10), limits)
}
