/**
 * A read-only look inside one Redis engine, for leak checks in tests and for debugging a live
 * process: what it holds and what listens on its ioredis connections. Nothing here changes
 * the engine; every figure is counted when asked.
 */
import type { EventEmitter } from 'node:events'

/** One of the engine's ioredis connections. */
export interface ConnectionInspection {
  /** `command`: publishes, reads, dedupe and probes; `subscriber`: (S)SUBSCRIBE, one per Redis server or cluster master. */
  readonly role: 'command' | 'subscriber'
  /** ioredis's status (`ready`, `reconnecting`, `end`, …). */
  readonly status: string
  /**
   * Listeners on the connection by event name. The engine attaches a fixed set when it makes
   * the connection (one message listener for every channel, never one per channel), and the
   * count of each must not grow with the channels held or subscribed over time.
   */
  readonly listeners: Readonly<Record<string, number>>
}

/** What {@link inspectRedisEngine} reports. */
export interface RedisEngineInspection {
  /** The command connection first, then each subscriber connection. */
  readonly connections: readonly ConnectionInspection[]
  /** Channels with local subscribers (subscribed in Redis). */
  readonly held: number
  /** Channels without local subscribers kept for `retainMs`, each with a timer that forgets it. */
  readonly kept: number
  /** Pub/sub channels the subscriber connections hold, besides their probe channels (dedupe's included). */
  readonly subscribed: number
  /** Publishes of this process waiting for their publication to come back. */
  readonly waiting: number
}

/** Listener counts of `emitter` by event name (events without listeners left out). */
export function listenersOf(emitter: EventEmitter): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const name of emitter.eventNames()) counts[String(name)] = emitter.listenerCount(name)
  return counts
}
