/**
 * Outbound flow control of one connection, runtime-free (docs/protocol.md §14). Every frame
 * a session sends goes through here, measured against what the socket's queue costs in
 * memory (its buffered bytes plus FRAME_OVERHEAD per queued frame):
 * - replies and stream items are never dropped; past the hard limit the connection closes;
 * - at the high-water mark the connection stops being read (its further calls wait);
 * - topic events follow their topic's policy: queue, latest, drop or close;
 * - held events and lag notices go out, and reading resumes, once the buffer has drained.
 */
import { serverWire, type BackpressurePolicy, type Codec, type Frame } from '@patchbay/core'
import type { ServerStats } from './types.js'

/** What outbound flow control needs from a socket. */
export interface FlowTransport {
  send(frame: Frame): void
  /**
   * Sends a topic event: the same frame object goes to every subscriber of its codec in the
   * same turn, so a transport may frame it once for all of them (docs/protocol.md §12). Same
   * order and accounting as `send`; a transport without it gets events through `send`.
   */
  sendShared?(frame: Frame): void
  /** Bytes accepted by `send` and not yet handed to the network. */
  readonly bufferedAmount: number
  /**
   * Frames accepted by `send` and not yet handed to the network, each costing
   * FRAME_OVERHEAD beyond its bytes. A transport that cannot count them leaves this out,
   * and then only payload bytes are counted against the limits.
   */
  readonly bufferedFrames?: number
  /** Stops reading frames from the peer until `resume`. */
  pause(): void
  resume(): void
  /** Calls `listener` once, when everything buffered has gone to the network. */
  onceDrained(listener: () => void): void
}

/**
 * A connection's outbound limits, in bytes of memory: a queued frame counts as its length
 * plus FRAME_OVERHEAD, so the limits bound what a reader that stops reading costs the
 * process, however small its frames (docs/protocol.md §14).
 */
export interface FlowLimits {
  /**
   * Above this much queued (bytes plus FRAME_OVERHEAD per frame) the connection counts as
   * congested: it stops being read, and topic events follow their topic's policy.
   * @default 524_288 (512 KiB)
   */
  highWaterMark: number
  /**
   * The hard limit on the memory one connection's outbound queue may hold (bytes plus
   * FRAME_OVERHEAD per frame, held `latest` events included): a frame that would take it
   * past this closes the connection with 4507 SLOW_CONSUMER instead of growing memory.
   * @default 8_388_608 (8 MiB)
   */
  maxBuffered: number
}

/**
 * What a frame waiting in a socket's queue costs beyond its own bytes, in bytes. Node and
 * `ws` keep per queued frame a header Buffer (a JS object over a slice of a pool), one or
 * two write-queue entries with their callbacks, and the frame's own Buffer object when it
 * is not shared: measured on Node 20 with ws 8, 210 bytes of heap per frame for a topic
 * event (its bytes shared by every subscriber) and 460 for a reply with its own Buffer.
 * Counting only payload bytes, a reader stalled on 40-byte events held 6× the limit.
 */
export const FRAME_OVERHEAD = 512


/** The default {@link FlowLimits}. */
export const DEFAULT_FLOW_LIMITS: Readonly<FlowLimits> = Object.freeze({ highWaterMark: 524_288, maxBuffered: 8_388_608 })

/** Fills unset flow limits with their defaults and checks them. */
export function resolveFlowLimits(partial: Partial<FlowLimits> = {}): FlowLimits {
  const limits: FlowLimits = { ...DEFAULT_FLOW_LIMITS, ...definedOnly(partial) }
  for (const key of ['highWaterMark', 'maxBuffered'] as const) {
    if (!Number.isSafeInteger(limits[key]) || limits[key] <= 0) {
      throw new RangeError(`backpressure.${key} must be a positive integer, got ${String(limits[key])}`)
    }
  }
  if (limits.highWaterMark > limits.maxBuffered) throw new RangeError('backpressure.highWaterMark must not exceed backpressure.maxBuffered')
  return limits
}

function definedOnly(partial: Partial<FlowLimits>): Partial<FlowLimits> {
  const out: Partial<FlowLimits> = {}
  if (partial.highWaterMark !== undefined) out.highWaterMark = partial.highWaterMark
  if (partial.maxBuffered !== undefined) out.maxBuffered = partial.maxBuffered
  return out
}

/** How a topic's events are delivered to a congested subscriber. */
export interface Delivery {
  /** The topic's path: the close reason of a `close` policy names it (events carry a number). */
  readonly topic: string
  readonly policy: BackpressurePolicy
  /** The topic's own high-water mark, else the server's. */
  readonly highWaterMark: number
}

/** What `frame` will cost in a socket's queue: its bytes and the per-frame overhead. */
function costOf(frame: Frame): number {
  // A string's length in UTF-16 units: exact for ASCII JSON, at most 3× short otherwise.
  // Close enough to bound memory, and measuring UTF-8 would cost a pass over every frame.
  return (typeof frame === 'string' ? frame.length : frame.byteLength) + FRAME_OVERHEAD
}

/** The outbound side of one connection. */
export class Outbound {
  /** A drain listener is registered. */
  private waiting = false
  private paused = false
  private closed = false
  /** `latest` topics: the newest event held per channel while congested. */
  private held: Map<number, Frame> | undefined
  /** Cost of the held events (costOf): they count toward the hard limit like queued ones. */
  private heldBytes = 0
  /** `drop` topics: what was dropped per channel, for the lag notice. */
  private dropped: Map<number, { seq: number; missed: number }> | undefined
  private drainWaiters: (() => void)[] | undefined
  /** A drop was reported since the socket last drained: one log line per congestion episode. */
  private dropping = false

  constructor(
    private readonly transport: FlowTransport,
    private readonly limits: FlowLimits,
    private readonly codec: Codec,
    private readonly stats: ServerStats,
    /** Told once when the connection must close as a slow consumer. */
    private readonly owner: { slowConsumer(reason: string): void; resumed(): void; dropped(topic: string | undefined): void; dropping?(topic: string, policy: string): void },
  ) {}

  /** Reading is paused: frames the transport still hands over must wait for `resumed`. */
  get isPaused(): boolean {
    return this.paused
  }

  /** Above the connection's high-water mark. */
  get congested(): boolean {
    return this.queued() >= this.limits.highWaterMark
  }

  /** What the socket's queue costs now: its bytes, and FRAME_OVERHEAD per frame. */
  private queued(): number {
    const transport = this.transport
    return transport.bufferedAmount + (transport.bufferedFrames ?? 0) * FRAME_OVERHEAD
  }

  /** Sends a frame that must not be dropped (a reply, a stream item). False if it closed the connection. */
  send(frame: Frame): boolean {
    if (this.closed) return false
    return this.sendMeasured(frame, this.queued())
  }

  /** Sends a topic event (its frame shared by every subscriber), never dropped. */
  private sendEvent(frame: Frame): boolean {
    if (this.closed) return false
    return this.sendMeasured(frame, this.queued(), true)
  }

  /**
   * `send` with the queue's cost already read: one read of it per frame on the hot path.
   * `shared`: a topic event, whose frame the transport may have built once for everyone.
   */
  private sendMeasured(frame: Frame, buffered: number, shared = false): boolean {
    const after = buffered + this.heldBytes + costOf(frame)
    if (after > this.limits.maxBuffered) {
      this.fail(`Outbound buffer passed ${this.limits.maxBuffered} bytes`)
      return false
    }
    const transport = this.transport
    if (shared && transport.sendShared !== undefined) transport.sendShared(frame)
    else transport.send(frame)
    if (!this.paused && after >= this.limits.highWaterMark) {
      // Its results are not being read: read no more calls until they are (§14.2).
      this.paused = true
      this.stats.pauses++
      this.transport.pause()
      this.armDrain()
    }
    return true
  }

  /** Delivers a topic event (the shared frame of channel number `ch`, message `seq`). */
  deliver(frame: Frame, ch: number, seq: number, delivery: Delivery): void {
    if (this.closed) return
    const buffered = this.queued()
    if (buffered < delivery.highWaterMark) {
      if (this.held === undefined && this.dropped === undefined) {
        this.sendMeasured(frame, buffered, true)
        return
      }
      // Room again before the drain callback ran: the held event is older than this one.
      const stale = this.held?.get(ch)
      if (stale !== undefined) {
        this.held?.delete(ch)
        this.heldBytes -= costOf(stale)
        // A loss notice waits behind it (see `lost`): it goes out first, or the notice's
        // count would leave out the events before it.
        if (this.dropped?.has(ch) === true) this.sendEvent(stale)
        else this.drop(delivery.topic)
      }
      this.sendLag(ch)
      this.sendEvent(frame)
      return
    }
    switch (delivery.policy) {
      case 'queue':
        this.sendMeasured(frame, buffered, true)
        return
      case 'close':
        this.fail(`Subscriber of "${delivery.topic}" passed the high-water mark`)
        return
      case 'latest': {
        this.held ??= new Map()
        const replaced = this.held.get(ch)
        const size = costOf(frame)
        if (buffered + this.heldBytes - (replaced === undefined ? 0 : costOf(replaced)) + size > this.limits.maxBuffered) {
          this.fail(`Outbound buffer passed ${this.limits.maxBuffered} bytes`)
          return
        }
        if (replaced !== undefined) {
          this.heldBytes -= costOf(replaced)
          this.drop(delivery.topic)
          this.noteDrop(delivery)
        }
        this.held.set(ch, frame)
        this.heldBytes += size
        this.armDrain()
        return
      }
      case 'drop': {
        this.dropped ??= new Map()
        const entry = this.dropped.get(ch)
        if (entry === undefined) this.dropped.set(ch, { seq, missed: 1 })
        else {
          entry.seq = seq
          entry.missed++
        }
        this.drop(delivery.topic)
        this.noteDrop(delivery)
        this.armDrain()
        return
      }
    }
  }

  /** Tells the owner of the first event dropped since the socket last drained. */
  private noteDrop(delivery: Delivery): void {
    if (this.dropping) return
    this.dropping = true
    this.owner.dropping?.(delivery.topic, delivery.policy)
  }

  /**
   * Sends a channel's reset notice (a `lag` naming its new epoch, §14), never dropped. The
   * event a `latest` topic holds for `ch` and the count a `drop` topic keeps for it belong to
   * the lost epoch: the notice's unknown gap covers them, so they are let go unsent.
   */
  reset(frame: Frame, ch: number): void {
    if (this.closed) return
    const stale = this.held?.get(ch)
    if (stale !== undefined) {
      this.held?.delete(ch)
      this.heldBytes -= costOf(stale)
      this.drop(undefined)
    }
    this.dropped?.delete(ch)
    this.send(frame)
  }

  /**
   * Reports events of `ch` the topic engine lost for good, `missed` of them through `seq`
   * (a counted `lag`, §14), never dropped and never ahead of an event before them: added to
   * the count a `drop` topic keeps for `ch`, queued behind the event a `latest` topic holds
   * for it, else sent at once.
   */
  lost(ch: number, seq: number, missed: number): void {
    if (this.closed) return
    const counted = this.dropped?.get(ch)
    if (counted !== undefined) {
      counted.seq = seq
      counted.missed += missed
      return
    }
    if (this.held?.has(ch) === true) {
      ;(this.dropped ??= new Map()).set(ch, { seq, missed })
      this.armDrain()
      return
    }
    this.send(this.codec.encode(serverWire({ t: 'lag', ch, seq, missed })))
  }

  /** Runs `resume` once the connection is below its high-water mark (at once if it is). */
  whenUncongested(resume: () => void): void {
    if (!this.congested) return resume()
    ;(this.drainWaiters ??= []).push(resume)
    this.armDrain()
  }

  /** The connection closed: nothing more is sent, held events are let go. */
  close(): void {
    this.closed = true
    this.held = undefined
    this.heldBytes = 0
    this.dropped = undefined
    this.drainWaiters = undefined
    // A connection paused for being congested could never read the peer's answer to our
    // close frame, so the closing handshake would hang until closeTimeout terminated the
    // socket (and a 4507 client would wait that long to reconnect). Read again: the session
    // ignores everything but the close.
    this.resumeReading()
  }

  private resumeReading(): void {
    if (!this.paused) return
    this.paused = false
    this.transport.resume()
  }

  /** Counts one event dropped by a backpressure policy, and tells the owner (instrumentation). */
  private drop(topic: string | undefined): void {
    this.stats.dropped++
    this.owner.dropped(topic)
  }

  private fail(reason: string): void {
    this.stats.slowConsumers++
    this.close()
    this.owner.slowConsumer(reason)
  }

  private sendLag(ch: number): void {
    const entry = this.dropped?.get(ch)
    if (entry === undefined) return
    this.dropped?.delete(ch)
    this.send(this.codec.encode(serverWire({ t: 'lag', ch, seq: entry.seq, missed: entry.missed })))
  }

  private armDrain(): void {
    if (this.waiting) return
    this.waiting = true
    this.transport.onceDrained(() => this.drained())
  }

  private drained(): void {
    this.waiting = false
    this.dropping = false
    if (this.closed) return
    if (this.held !== undefined) {
      const held = [...this.held.values()]
      this.held.clear()
      this.heldBytes = 0
      for (const frame of held) this.sendEvent(frame)
    }
    if (this.dropped !== undefined) for (const ch of [...this.dropped.keys()]) this.sendLag(ch)
    if (this.closed) return
    if (this.paused && !this.congested) {
      this.resumeReading()
      this.owner.resumed()
      if (this.closed) return
    }
    if (this.congested) {
      this.armDrain()
      return
    }
    const waiters = this.drainWaiters
    this.drainWaiters = undefined
    if (waiters !== undefined) for (const resume of waiters) resume()
  }
}
