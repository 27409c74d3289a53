/**
 * The engine seam: where topic events are stored and how they travel between server
 * processes. An engine only stores and moves; every guarantee the protocol makes (seq order,
 * no duplicates, replay merged with live events, gaps reported with an exact count,
 * backpressure) stays in Patchbay's own code — the per-channel {@link Feed} (feed.ts) and the
 * PubSub registry (pubsub.ts) — so that it can be tested against an engine that drops,
 * duplicates, delays and reorders (tests/server/engine-feed.test.ts), and so that a new
 * engine cannot weaken it.
 *
 * Two kinds, told apart by `synchronous`:
 * - a **synchronous** engine (the memory engine, the default) answers every method at once
 *   and delivers a publish to the handler before `publish` returns. PubSub keeps today's
 *   single-process path: `server.publish` returns the delivered count, a `sub` is answered in
 *   the same step it was registered in, no promise on the hot path;
 * - an **asynchronous** engine (Redis, `@patchbay/redis`) answers with promises and delivers
 *   publications — those of this process included — through its subscription, in its own
 *   time. PubSub buffers what arrives while it reads history, merges by seq, repairs gaps
 *   from history, and tells subscribers of what cannot be repaired.
 *
 * Contract every engine keeps (the Feed tolerates anything else, but only these make it lossless):
 * - `publish` assigns the channel's next seq atomically (one order for every process) and
 *   stores the event in the channel's history *before* any process can receive it, so a
 *   history read made after receiving seq n contains n (unless trimmed);
 * - an epoch names one incarnation of a channel's seqs and changes whenever the engine lost
 *   the channel's state (forgot it, restarted empty, evicted it): seqs of two epochs are not
 *   comparable, and a subscriber learns of the change instead of seeing seqs restart;
 * - reference counting is PubSub's: `subscribe` is called once per channel per process, when
 *   its first local subscriber arrives, and `unsubscribe` once after its last one leaves.
 *
 * An asynchronous engine may lose a publication on its way without noticing: the Feed finds
 * the gap when a later one arrives, on `resync`, or by its position check, which calls `read`
 * for a held channel that heard nothing for `positionCheckMs` (position-check.ts).
 *
 * Design notes for the Redis engine (issue 13, docs in scale-out-research.md §4): publish is
 * one script (epoch-if-absent, INCR seq, XADD with the seq as stream id, trim to `history`,
 * EXPIRE ≥ `retainMs`, PUBLISH epoch+seq+payload); `read` is HMGET meta + XRANGE after
 * `since`; `subscribe` resolves once Redis acknowledged the SUBSCRIBE (the Feed buffers live
 * events from that call on, then reads, so nothing falls between the two); after its link
 * comes back it re-subscribes every held channel and calls `handler.resync()`; `state`
 * reports `down` while Redis is unreachable and publishes then reject with a retryable code.
 */

import type { DedupeStore, IdempotencyOptions } from './idempotency.js'

/** A point in a channel's sequence: `seq` of incarnation `epoch`. */
export interface Position {
  readonly epoch: string
  readonly seq: number
}

/** One event of a channel as an engine stores and delivers it: its seq and its (plain) data. */
export interface Publication {
  readonly seq: number
  readonly data: unknown
}

/** What an engine keeps per channel: the topic's options (docs/protocol.md §12.1). */
export interface ChannelOptions {
  /** Events kept per channel for resuming subscribers; 0 keeps none. */
  readonly history: number
  /** Milliseconds the channel's seq, epoch and history outlive its last subscriber anywhere. */
  readonly retainMs: number
}

/** The answer to a history read. */
export interface HistoryRead {
  /** The channel's latest position now (an engine that forgot the channel starts a new epoch at 0). */
  readonly top: Position
  /**
   * Events of `top.epoch` after the `since` asked for, oldest first, as far as history still
   * holds them: when the first is later than `since + 1`, the ones between are gone.
   */
  readonly publications: readonly Publication[]
}

/** `up`: publishing and subscribing work. `down`: the engine cannot reach its store. */
export type EngineState = 'up' | 'down'

/** What an engine reports for `server.topicStats`. */
export interface EngineStats {
  readonly state: EngineState
  /** Channels the engine keeps for this process: held, or kept for returning subscribers. */
  readonly channels: number
  /** Of those, channels without a local subscriber kept for `retainMs` (0 when the store is remote). */
  readonly retained: number
  /** Bytes those retained channels hold in this process. */
  readonly retainedBytes: number
  /** Retained channels forgotten early because of the server-wide bounds, since start. */
  readonly evictions: number
}

/** How an engine reaches Patchbay: given once, at `start`. */
export interface EngineHandler {
  /**
   * A publication of a channel this process holds, from any process (this one included).
   * May come late, twice, out of order or never: the Feed sorts that out.
   */
  publication(channel: string, epoch: string, publication: Publication): void
  /** The engine's link came back: every held channel may have missed publications. */
  resync(): void
  /**
   * Encoded size of an event just published, for an engine that bounds what it keeps in
   * bytes (the memory engine): PubSub answers from the frame it made for its subscribers.
   */
  measure(channel: string, publication: Publication): number
}

/** What every engine does. */
interface EngineBase {
  /** Connects the engine to its server; called once, before any other method. */
  start(handler: EngineHandler): void
  /** The engine's state and counts now. */
  readonly stats: EngineStats
  /** Releases everything (timers, connections); the server is closing. */
  close(): void | Promise<void>
  /**
   * The dedupe window of idempotent calls (docs/protocol.md §4.2) kept in the engine's store,
   * so that it spans every process; called once, after `start`. An engine without it leaves
   * the server its in-process window.
   */
  dedupe?(options: IdempotencyOptions): DedupeStore
}

/**
 * An engine that answers at once (the memory engine). `publish` hands the publication to the
 * handler before it returns.
 */
export interface SyncEngine extends EngineBase {
  readonly synchronous: true
  /** Appends `data` to `channel`; undefined when no process holds or keeps the channel (nobody to tell). */
  publish(channel: string, data: unknown): Position | undefined
  /** This process receives the channel's publications from now on. */
  subscribe(channel: string, options: ChannelOptions): void
  /** This process no longer receives the channel's publications (the engine may keep its history for `retainMs`). */
  unsubscribe(channel: string): void
  /** The channel's top, and its events after `since` (none asked when undefined). */
  /** See {@link AsyncEngine.read}; the memory engine never loses what it acknowledged, so it ignores `epoch`. */
  read(channel: string, since: number | undefined, epoch?: string): HistoryRead
}

/** An engine whose store is elsewhere (Redis): every operation is a round trip. */
export interface AsyncEngine extends EngineBase {
  readonly synchronous: false
  /** Appends `data` to `channel` (creating it if need be) and publishes it to every process holding it. */
  publish(channel: string, data: unknown, options: ChannelOptions): Promise<Position>
  /** Resolves once publications of the channel reach this process. */
  subscribe(channel: string, options: ChannelOptions): Promise<void>
  unsubscribe(channel: string): Promise<void>
  /**
   * The channel's top and its events after `since`. `epoch`, given only by this process's own
   * repair reads, is the epoch `since` was delivered in: a store whose top in that epoch is
   * below `since` lost publications it had acknowledged (Redis restarted from an AOF written
   * with `appendfsync everysec`, a replica promoted before it had them), and its next seqs would
   * repeat seqs already delivered. The engine then starts a new epoch, so every subscriber
   * learns of the unknown gap (docs/protocol.md §12.1) instead of losing events silently.
   */
  read(channel: string, since: number | undefined, epoch?: string): Promise<HistoryRead>
}

/** Where topic events are stored and how they travel: see this module's comment. */
export type Engine = SyncEngine | AsyncEngine
