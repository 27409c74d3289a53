/**
 * The Redis engine's options, and the ioredis connections they make: the options a user
 * passes, with those the engine's guarantees rest on forced over them.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'

/** Options shared by every way of naming the Redis server(s). */
export interface RedisEngineCommonOptions {
  /**
   * Prefix of every key and pub/sub channel, so several applications share one Redis.
   * @default 'pb:'
   */
  prefix?: string
  /**
   * A command (publish, history read, subscribe) that gets no answer within this many
   * milliseconds fails; while Redis is known to be unreachable, commands fail at once.
   * @default 1000
   */
  commandTimeoutMs?: number
  /**
   * How often this process renews the TTL of the channels it holds, so a channel with
   * subscribers but no publishes is not forgotten. Keys live `retainMs + 2 × refreshMs` after
   * their last publish, read or renewal.
   * @default 10000
   */
  refreshMs?: number
  /**
   * A subscriber connection that received nothing for this many milliseconds publishes a
   * probe to its own service channel, to learn whether it still receives (a connection can
   * stay open on a route that no longer delivers: no error, no close, only silence).
   * @default 10000
   */
  probeIntervalMs?: number
  /**
   * When neither the probe nor anything else came back on the connection within this many
   * milliseconds of sending it, the connection is dead: it is reconnected, every channel it
   * held is subscribed again, and the feeds repair what they missed from history. A dead
   * connection is noticed at most `probeIntervalMs + probeTimeoutMs` after the last message
   * it received.
   * @default 2000
   */
  probeTimeoutMs?: number
  /**
   * Keep the dedupe window of idempotent calls (docs/protocol.md §4.2) in Redis, so that a
   * keyed call runs once across every node (`false`: each server keeps its own in-process
   * window). While Redis is unreachable a keyed call then fails with UNAVAILABLE, unrun.
   * @default true
   */
  dedupe?: boolean
  /**
   * How often a call waiting for a run on another node checks the run's key, besides the
   * pub/sub message that normally ends the wait (at most a quarter of `idempotency.windowMs`).
   * @default 1000
   */
  dedupePollMs?: number
  /** Called with every error of the Redis connections (they are never thrown as `error` events). @default none */
  onError?: (error: Error) => void
}

/** A Redis Cluster to use: some of its nodes, and ioredis's cluster options. */
export interface RedisEngineClusterOptions extends ClusterOptions {
  /**
   * Nodes to learn the cluster's slot map from (one reachable master suffices); the engine
   * then connects to every master it finds.
   */
  nodes: readonly { host: string; port: number }[]
}

/** {@link createRedisEngine}'s options: a URL, ioredis's connection options, or a Redis Cluster. */
export type RedisEngineOptions =
  | (RedisEngineCommonOptions & {
      /** `redis://[user:password@]host:port[/db]`. */
      url: string
    })
  | (RedisEngineCommonOptions & {
      /**
       * ioredis connection options (host, port, password, tls, retryStrategy, …). The engine
       * overrides those its guarantees depend on: no offline queue, no retried or resent
       * commands (a retried publish could take two seqs), no automatic resubscribe.
       */
      redis: RedisOptions
    })
  | (RedisEngineCommonOptions & {
      /**
       * A Redis Cluster (7.0 or later: sharded pub/sub). Options, not a ready `Cluster`: the
       * engine must own its connections' settings (the same ones it forces on one server, plus
       * no retry of a command whose connection closed, no wait on CLUSTERDOWN) and opens a
       * subscriber connection of its own to each master. `redisOptions` (password, tls, …)
       * apply to every connection.
       */
      cluster: RedisEngineClusterOptions
    })

/** The connections of one engine. */
export interface Connections {
  /** `true` on a Redis Cluster: sharded pub/sub (SPUBLISH, SSUBSCRIBE). */
  readonly cluster: boolean
  /** The command connection (publish, read, dedupe, probes). */
  command(): Redis | Cluster
  /** A subscriber connection: to the one server, or to the cluster master at `node`. */
  subscriber(node?: { host: string; port: number }): Redis
}

/** The ioredis connections `options` name, with the engine's own settings forced on them. */
export function connectionsOf(options: RedisEngineOptions, commandTimeoutMs: number): Connections {
  // What the guarantees rest on, whatever was passed: a command either runs once or fails
  // now (an offline queue or a resend could publish twice, or late), and the engine
  // re-subscribes itself so that it knows when to look for gaps.
  const shared = {
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    commandTimeout: commandTimeoutMs,
    lazyConnect: true,
    // Replies in RESP2 shapes (arrays), which the scripts' results are parsed as.
    replyMapping: 'legacy',
  } as const
  // A cluster's own connections take the cluster's queue setting (off, below).
  const forced = { ...shared, enableOfflineQueue: false }
  const retryStrategy = (times: number): number => Math.min(times * 50, 1000)
  if ('cluster' in options) {
    const { nodes, redisOptions, ...clusterOptions } = options.cluster
    return {
      cluster: true,
      command: () =>
        new Cluster([...nodes], {
          ...clusterOptions,
          redisOptions: { ...redisOptions, ...shared },
          enableOfflineQueue: false,
          lazyConnect: true,
          // A command whose connection closed may have run (a publish would take two seqs if
          // sent again); CLUSTERDOWN fails now rather than after a wait (UNAVAILABLE, retryable).
          retryDelayOnFailover: 0,
          retryDelayOnClusterDown: 0,
          // Our own SSUBSCRIBE connections, not ioredis's (see shards.ts).
          shardedSubscribers: false,
        }),
      subscriber: (node) => new Redis({ retryStrategy, ...redisOptions, ...forced, ...(node ?? {}) }),
    }
  }
  const connection: RedisOptions & { replyMapping: 'legacy' } = { retryStrategy, ...('url' in options ? {} : options.redis), ...forced }
  const make = (): Redis => ('url' in options ? new Redis(options.url, connection) : new Redis(connection))
  return { cluster: false, command: make, subscriber: make }
}
