/**
 * The topic registry, runtime-free: channels held in this process, their subscribers, and the
 * wire number of each. Where events are stored and how they travel is the engine's (engine.ts);
 * order, replay merge and gaps are each channel's {@link Feed}'s; this module fans a
 * publication out: the event is built once and encoded once per codec in use, and the same
 * bytes go to every subscriber of that codec (docs/protocol.md §12).
 */
import { ErrorCode, PatchbayError, serverWire, type Codec, type EpochLagMessage, type EventMessage, type Frame, type WireError } from '@patchbay/core'
import type { Engine, EngineHandler, EngineState, Position, Publication } from './engine.js'
import { Feed } from './feed.js'
import type { ServerInstrumentation } from './instrumentation.js'
import type { Delivery } from './outbound.js'
import { DEFAULT_POSITION_CHECK_MS, PositionCheck, type CheckedChannel } from './position-check.js'

/** What the registry needs of a subscriber. */
export interface Subscriber {
  readonly codec: Codec
  /** Delivers event `seq` of channel number `ch`, already encoded, under the topic's backpressure policy. */
  deliver(frame: Frame, ch: number, seq: number, delivery: Delivery): void
  /**
   * Sends the notice that channel number `ch` goes on in another epoch (a `lag` with `epoch`,
   * §14): never dropped, and it supersedes what the connection still holds or counts for `ch`
   * under a `latest` or `drop` policy (those belong to the lost epoch).
   */
  reset(frame: Frame, ch: number): void
  /**
   * Sends the counted `lag` (§14) for events of channel number `ch` the engine lost for good:
   * `missed` of them, through `seq`. Never dropped; a `drop` count the connection keeps for
   * `ch` takes them in, so one notice reports both.
   */
  lost(ch: number, seq: number, missed: number): void
}

/** How long a channel keeps its messages for subscribers that come back (docs/protocol.md §12.1). */
export interface Retention {
  /** Messages kept per channel for resuming subscribers; 0 keeps none. */
  readonly history: number
  /** Milliseconds a channel outlives its last subscriber. */
  readonly retainMs: number
}

/** A topic's options that its channels are held with. */
export interface ChannelRoute {
  readonly retention: Retention
  /** Backpressure policy of its subscribers (§14). */
  readonly delivery: Delivery
}

/** What a subscription starts with. */
export interface Subscribed {
  /** The channel's number, which its events carry. */
  ch: number
  /** Events continue from seq + 1. */
  seq: number
  epoch: string
  /** Events to send at once, right after the confirmation (a successful resume). */
  replay: readonly Publication[]
}

/**
 * The answer to a subscribe, given in the step the subscription is registered in: returns
 * false when the subscriber no longer wants it (it unsubscribed or closed while waiting).
 * An error is the client's answer: a resume beyond the channel's latest seq (§12.1), or an
 * engine that could not be reached.
 */
export type SubscribeAnswer = (answer: { ok: true; subscribed: Subscribed } | { ok: false; error: WireError }) => boolean

const AHEAD: WireError = Object.freeze({ code: ErrorCode.BAD_REQUEST, message: "resume seq is beyond the channel's latest message" })
const UNAVAILABLE_MESSAGE = 'The topic engine is unavailable'
/** A `sub` or `pub` the engine could not serve: retryable (docs/protocol.md §6). */
const UNAVAILABLE: WireError = Object.freeze({ code: ErrorCode.UNAVAILABLE, message: UNAVAILABLE_MESSAGE })

/**
 * An asynchronous engine's publish failure as the publisher sees it: a PatchbayError the
 * engine chose passes as is; anything else (a lost link, a timeout) is UNAVAILABLE, the engine's
 * error kept as its `cause` for a `server.publish` caller (a client sees code and message only).
 */
function unavailable(error: unknown): PatchbayError {
  return error instanceof PatchbayError ? error : new PatchbayError(ErrorCode.UNAVAILABLE, UNAVAILABLE_MESSAGE, { cause: error })
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
  /** The engine's state: `down` while it cannot reach its store. */
  engine: EngineState
  /** Events the engine lost for good (reported to subscribers as a gap in seq), since start. */
  lost: number
  /** Times a held channel's epoch changed under its subscribers, since start. */
  resets: number
  /** Reads of the engine's top for channels that heard nothing for `positionCheckMs`, since start. */
  positionChecks: number
}

const utf8 = new TextEncoder()
/** Marks a frame of a publish as one that would not encode. */
const UNENCODABLE = new Uint8Array(0)

function byteLengthOf(frame: Frame): number {
  return typeof frame === 'string' ? frame.length : frame.byteLength
}

/**
 * A frame as bytes, ready for any number of sockets (text codecs send these as text frames),
 * or UNENCODABLE for a message that does not encode.
 */
function encodeEvent(codec: Codec, message: EventMessage): Uint8Array {
  let frame: Frame
  try {
    frame = codec.encode(serverWire(message))
  } catch {
    return UNENCODABLE
  }
  return typeof frame === 'string' ? utf8.encode(frame) : frame
}

/** A channel held in this process: it has subscribers, or subscribes waiting for their answer. */
interface Held extends CheckedChannel {
  readonly name: string
  readonly feed: Feed
  readonly route: ChannelRoute
  /** The channel's number on the wire, set at its first answer (0 until then). */
  ch: number
  /** Subscriber → how many of its subscriptions listen here (two params can validate alike). */
  readonly subscribers: Map<Subscriber, number>
  /** Subscribes not answered yet: the channel stays held for them. */
  joining: number
  /** Resolves once the engine delivers the channel here (an asynchronous engine's subscribe). */
  ready: Promise<void> | undefined
  /** Seq and encoded size of the last event fanned out, for the engine's `measure`. */
  lastSeq: number
  lastBytes: number
}

/** Options of {@link PubSub}. */
export interface PubSubOptions {
  /**
   * Wire numbers of channels without subscribers remembered, so a subscriber coming back to
   * a kept channel finds the same number (and a forgotten one a new number with its new epoch).
   */
  rememberChannels: number
  /**
   * With an asynchronous engine, how often a held channel that received no publication for
   * that long reads the engine's top, to find a publication lost on its way with nothing
   * after it (docs/protocol.md §12.1); 0 turns it off. Ignored with a synchronous engine.
   * @default 40_000
   */
  positionCheckMs?: number
  /** Hears deliveries and lags (instrumentation.ts). @default none */
  instrumentation?: ServerInstrumentation | undefined
}

/** Channels by name, and the fan-out of their events to this process's subscribers. */
export class PubSub implements EngineHandler {
  private readonly held = new Map<string, Held>()
  /** Wire numbers of released channels by name, oldest first, with the epoch they named. */
  private readonly released = new Map<string, { epoch: string; ch: number }>()
  private subscriptionCount = 0
  private encodes = 0
  private resumed = 0
  private lostCount = 0
  private resets = 0
  /**
   * Wire numbers: unique in this process and never reused, so a number always means one
   * incarnation of one channel here.
   */
  private numbers = 0
  /** A codec to measure history entries of channels nobody listens to (any will do). */
  private sizer: Codec | undefined
  /** Asynchronous engines only: the memory engine never loses a publication. */
  private readonly positionCheck: PositionCheck | undefined

  constructor(
    private readonly engine: Engine,
    private readonly options: PubSubOptions = { rememberChannels: 10_000 },
  ) {
    const interval = options.positionCheckMs ?? DEFAULT_POSITION_CHECK_MS
    if (!Number.isSafeInteger(interval) || interval < 0) throw new RangeError(`positionCheckMs must be a non-negative integer, got ${String(interval)}`)
    if (!engine.synchronous && interval > 0) {
      this.positionCheck = new PositionCheck(
        interval,
        () => this.held.values(),
        () => this.held.size,
        () => engine.stats.state === 'up',
      )
    }
    engine.start(this)
  }

  /**
   * Adds a subscription and answers it through `answer`, in the same step as its
   * registration (at once with a synchronous engine). With `resume` from this channel's epoch
   * and the history to cover the gap, events continue where the subscriber left off;
   * otherwise from the latest. A resume of this epoch beyond its latest seq is refused (§12.1).
   */
  subscribe(name: string, subscriber: Subscriber, route: ChannelRoute, resume: Position | undefined, answer: SubscribeAnswer): void {
    const held = this.held.get(name) ?? this.hold(name, route)
    this.sizer ??= subscriber.codec
    held.joining++
    const join = (): void =>
      held.feed.join(resume, (joined) => {
        held.joining--
        if (!joined.ok) {
          answer({ ok: false, error: 'ahead' in joined ? AHEAD : UNAVAILABLE })
          this.releaseIfIdle(held)
          return false
        }
        if (held.ch === 0) held.ch = this.numberFor(name, joined.epoch)
        if (!answer({ ok: true, subscribed: { ch: held.ch, seq: joined.seq, epoch: joined.epoch, replay: joined.replay } })) {
          this.releaseIfIdle(held)
          return false
        }
        held.subscribers.set(subscriber, (held.subscribers.get(subscriber) ?? 0) + 1)
        this.subscriptionCount++
        if (resume !== undefined && resume.epoch === joined.epoch && resume.seq === joined.seq) this.resumed++
        return true
      })
    // The feed reads history only once the engine delivers the channel here: events published
    // in between are buffered by the feed, not lost (the subscribe race, engine.ts).
    if (held.ready === undefined) join()
    else {
      held.ready.then(join, () => {
        held.joining--
        answer({ ok: false, error: UNAVAILABLE })
        this.releaseIfIdle(held)
      })
    }
  }

  /** Removes one subscription; the engine is told once the channel's last one has gone. */
  unsubscribe(name: string, subscriber: Subscriber): void {
    const held = this.held.get(name)
    const count = held?.subscribers.get(subscriber)
    if (held === undefined || count === undefined) return
    this.subscriptionCount--
    if (count > 1) held.subscribers.set(subscriber, count - 1)
    else held.subscribers.delete(subscriber)
    this.releaseIfIdle(held)
  }

  /**
   * Publishes `data` (already validated) to the channel through the engine. Returns how many
   * of this process's connections it was handed to: at once with a synchronous engine (it
   * delivers before `publish` returns), once the engine assigned its seq with another.
   */
  publish(name: string, data: unknown, route: ChannelRoute): number | Promise<number> {
    const engine = this.engine
    if (engine.synchronous) {
      if (engine.publish(name, data) === undefined) return 0
      return this.held.get(name)?.subscribers.size ?? 0
    }
    let published: Promise<Position>
    try {
      published = engine.publish(name, data, route.retention)
    } catch (error) {
      published = Promise.reject(error)
    }
    return published.then(
      () => this.held.get(name)?.subscribers.size ?? 0,
      (error: unknown) => {
        throw unavailable(error)
      },
    )
  }

  /** EngineHandler: a publication of a channel held here. */
  publication(name: string, epoch: string, publication: Publication): void {
    this.held.get(name)?.feed.publication(epoch, publication)
  }

  /** EngineHandler: the engine's link came back; every held channel checks for a gap. */
  resync(): void {
    for (const held of this.held.values()) held.feed.resync()
  }

  /** EngineHandler: the encoded size of the event, from the frame made for subscribers if any. */
  measure(name: string, publication: Publication): number {
    const held = this.held.get(name)
    if (held !== undefined && held.lastSeq === publication.seq && held.lastBytes > 0) return held.lastBytes
    if (this.sizer === undefined) return 0
    const ch = held?.ch ?? this.released.get(name)?.ch ?? 0
    return byteLengthOf(encodeEvent(this.sizer, { t: 'event', ch, seq: publication.seq, data: publication.data }))
  }

  get stats(): PubSubStats {
    const engine = this.engine.stats
    return {
      channels: engine.channels,
      subscriptions: this.subscriptionCount,
      encodes: this.encodes,
      resumed: this.resumed,
      retained: engine.retained,
      retainedBytes: engine.retainedBytes,
      evictions: engine.evictions,
      engine: engine.state,
      lost: this.lostCount,
      resets: this.resets,
      positionChecks: this.positionCheck?.checks ?? 0,
    }
  }

  /** Forgets every channel and closes the engine (the server is closing). */
  clear(): void | Promise<void> {
    for (const held of this.held.values()) held.feed.close()
    this.held.clear()
    this.positionCheck?.stop()
    this.released.clear()
    return this.engine.close()
  }

  private hold(name: string, route: ChannelRoute): Held {
    const held: Held = {
      name,
      route,
      ch: 0,
      subscribers: new Map(),
      joining: 0,
      ready: undefined,
      lastSeq: 0,
      lastBytes: 0,
      quiet: 0,
      feed: new Feed({
        read: (since, epoch) => this.engine.read(name, since, epoch),
        deliver: (publication) => this.fanOut(held, publication),
        lost: (seq, missed) => this.lost(held, seq, missed),
        reset: (at) => this.reset(held, at),
        up: () => this.engine.stats.state === 'up',
        history: route.retention.history,
      }),
    }
    this.held.set(name, held)
    this.positionCheck?.held()
    const engine = this.engine
    if (engine.synchronous) engine.subscribe(name, route.retention)
    else {
      try {
        held.ready = engine.subscribe(name, route.retention)
      } catch (error) {
        held.ready = Promise.reject(error)
      }
    }
    return held
  }

  /** Lets the channel go once it has neither subscribers nor subscribes waiting. */
  private releaseIfIdle(held: Held): void {
    if (held.subscribers.size > 0 || held.joining > 0 || this.held.get(held.name) !== held) return
    held.feed.close()
    this.held.delete(held.name)
    this.positionCheck?.released()
    if (held.ch !== 0 && held.feed.epoch !== undefined) {
      this.released.delete(held.name)
      this.released.set(held.name, { epoch: held.feed.epoch, ch: held.ch })
      if (this.released.size > this.options.rememberChannels) this.released.delete(this.released.keys().next().value as string)
    }
    const engine = this.engine
    if (engine.synchronous) engine.unsubscribe(held.name)
    else void (held.ready ?? Promise.resolve()).then(() => engine.unsubscribe(held.name)).catch(() => undefined)
  }

  /** The channel's wire number: the one it had if it comes back in the same epoch, else a new one. */
  private numberFor(name: string, epoch: string): number {
    const known = this.released.get(name)
    if (known !== undefined) this.released.delete(name)
    return known !== undefined && known.epoch === epoch ? known.ch : ++this.numbers
  }

  /**
   * The channel's epoch changed under its subscribers (the engine lost it; never with the
   * memory engine): each connection is told once, with a `lag` naming the new epoch and the
   * last seq before the first event of it that follows (`at.seq`, from the feed), and the
   * channel keeps its wire number (§12.1, §14). Off the hot path.
   */
  private reset(held: Held, at: Position): void {
    this.resets++
    this.options.instrumentation?.lag?.(held.route.delivery.topic, undefined)
    if (held.ch === 0) return // nobody was answered yet: each join learns the new epoch in its result
    const notice: EpochLagMessage = { t: 'lag', ch: held.ch, seq: at.seq, epoch: at.epoch }
    const frames = new Map<Codec, Frame>()
    for (const subscriber of held.subscribers.keys()) {
      let frame = frames.get(subscriber.codec)
      if (frame === undefined) {
        frame = subscriber.codec.encode(serverWire(notice))
        frames.set(subscriber.codec, frame)
      }
      subscriber.reset(frame, held.ch)
    }
  }

  /**
   * Events the engine lost for good (never with the memory engine): each connection gets a
   * counted `lag` through `seq` (§14), so a loss is reported even when no event follows it.
   */
  private lost(held: Held, seq: number, missed: number): void {
    this.lostCount += missed
    this.options.instrumentation?.lag?.(held.route.delivery.topic, missed)
    if (held.ch === 0) return // nobody was answered yet
    for (const subscriber of held.subscribers.keys()) subscriber.lost(held.ch, seq, missed)
  }

  /** Hands one event to every subscriber, each codec's frame made once, on first need. */
  private fanOut(held: Held, publication: Publication): void {
    const ch = held.ch
    const seq = publication.seq
    const delivery = held.route.delivery
    const message: EventMessage = { t: 'event', ch, seq, data: publication.data }
    // One frame per codec in use, made on first need: two codecs at most. A JSON frame is
    // turned into UTF-8 bytes here, once: sent as a string, ws would encode it per socket.
    let firstCodec: Codec | undefined
    let firstFrame: Frame | undefined
    let otherFrame: Frame | undefined
    for (const subscriber of held.subscribers.keys()) {
      const codec = subscriber.codec
      if (firstCodec === undefined) {
        firstCodec = codec
        // Plain data (the callers check it before publishing) always encodes. Should it not,
        // the seq is taken already (the engine assigned it): these subscribers miss it and
        // see the gap in seq, as a lag (§12), rather than the publish failing half-delivered.
        firstFrame = encodeEvent(codec, message)
        this.encodes++
      }
      if (codec === firstCodec) {
        if (firstFrame !== UNENCODABLE) subscriber.deliver(firstFrame as Frame, ch, seq, delivery)
      } else {
        if (otherFrame === undefined) {
          // As above: those of this codec miss it and see the gap.
          otherFrame = encodeEvent(codec, message)
          this.encodes++
        }
        if (otherFrame !== UNENCODABLE) subscriber.deliver(otherFrame, ch, seq, delivery)
      }
    }
    // Once per event, not per subscriber: the fan-out loop above stays as it was.
    this.options.instrumentation?.delivered?.(delivery.topic, held.subscribers.size)
    held.lastSeq = seq
    held.lastBytes = firstFrame === undefined || firstFrame === UNENCODABLE ? 0 : byteLengthOf(firstFrame)
  }
}
