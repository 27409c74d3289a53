/**
 * Where the engine's subscriber connections go: one to the single Redis server, or one per
 * master of a Redis Cluster (sharded pub/sub). Each channel is carried by one link: the only
 * one, or its slot's master's.
 *
 * Why not ioredis's own `shardedSubscribers` (ioredis 6, cluster/ClusterSubscriberGroup.js):
 * it re-subscribes a master's channels by itself after that master's connection came back
 * (with the offline queue on, errors of the re-subscribe swallowed, TODO in its source) and
 * gives no per-master signal when it did, so the engine would not know when to repair the gap;
 * and its connections are internal, so no liveness probe could be sent or judged per
 * connection. The same reasons made the engine turn `autoResubscribe` off on one server.
 */
import type { Cluster, Redis } from 'ioredis'
import { keySlot, SLOTS } from './slot.js'
import { SubscriberLink, type SubscriberEvents } from './subscriber.js'

/** What every subscriber link is made with, whatever its server. */
export interface LinkFactory {
  /** A new (lazy) connection to `host:port`, or to the configured server when absent. */
  connect(node?: { host: string; port: number }): Redis
  /** The service channel of a new link (on a cluster, one that `fitsIn` its master's slots). */
  probeChannel(fitsIn?: (channel: string) => boolean): string
  probe(channel: string, token: string): Promise<number>
  readonly probeIntervalMs: number
  readonly probeTimeoutMs: number
  readonly commandTimeoutMs: number
  readonly events: SubscriberEvents
}

/** The engine's subscriber connections. */
export interface Shards {
  /** The link that carries `channel` now; undefined while the cluster's slots are not known. */
  route(channel: string): SubscriberLink | undefined
  /** Every link. */
  links(): Iterable<SubscriberLink>
  close(): void
}

/** One Redis server: one subscriber connection for every channel. */
export class SingleShard implements Shards {
  private readonly link: SubscriberLink
  constructor(factory: LinkFactory) {
    this.link = linkOf(factory, factory.connect(), false, factory.probeChannel())
    void this.link.redis.connect().catch(() => undefined)
  }

  route(): SubscriberLink {
    return this.link
  }

  links(): Iterable<SubscriberLink> {
    return [this.link]
  }

  close(): void {
    this.link.close()
  }
}

/**
 * A Redis Cluster: one SSUBSCRIBE connection per master, made from the command connection's
 * slot map and kept in step with it (`ready`, `refresh`). A channel whose slot moved to another
 * master (failover, resharding) is subscribed there, and `moved` tells the engine to resync.
 */
export class ClusterShards implements Shards {
  /** Links by node key (`host:port`). */
  private readonly byNode = new Map<string, SubscriberLink>()
  private closed = false

  constructor(
    private readonly cluster: Cluster,
    private readonly factory: LinkFactory,
    private readonly moved: () => void,
  ) {
    cluster.on('ready', () => this.sync())
    cluster.on('refresh', () => this.sync())
  }

  route(channel: string): SubscriberLink | undefined {
    const node = this.cluster.slots[keySlot(channel)]?.[0]
    return node === undefined ? undefined : this.byNode.get(node)
  }

  links(): Iterable<SubscriberLink> {
    return this.byNode.values()
  }

  close(): void {
    this.closed = true
    for (const link of this.byNode.values()) link.close()
    this.byNode.clear()
  }

  /** Makes the links match the slot map: a link per master, each channel on its slot's master. */
  private sync(): void {
    if (this.closed) return
    const masters = new Set<string>()
    for (let slot = 0; slot < SLOTS; slot++) {
      const node = this.cluster.slots[slot]?.[0]
      if (node !== undefined) masters.add(node)
    }
    const orphans: string[] = []
    for (const [node, link] of this.byNode) {
      // A link whose probe channel is no longer its master's would probe another master.
      if (masters.has(node) && this.owner(link.probeChannel) === node) continue
      this.byNode.delete(node)
      orphans.push(...link.channels)
      link.close()
    }
    for (const node of masters) {
      if (this.byNode.has(node)) continue
      const [host, port] = splitNodeKey(node)
      const probeChannel = this.factory.probeChannel((channel) => this.owner(channel) === node)
      const link = linkOf(this.factory, this.factory.connect({ host, port }), true, probeChannel)
      this.byNode.set(node, link)
      void link.redis.connect().catch(() => undefined)
    }
    // Channels held on a link that no longer serves their slot: subscribed where they live now.
    for (const link of this.byNode.values()) {
      for (const channel of [...link.channels]) {
        const owner = this.route(channel)
        if (owner === link) continue
        link.unsubscribe(channel).catch(() => undefined)
        orphans.push(channel)
      }
    }
    if (orphans.length === 0) return
    for (const channel of orphans) this.route(channel)?.hold(channel)
    this.moved()
  }

  private owner(channel: string): string | undefined {
    return this.cluster.slots[keySlot(channel)]?.[0]
  }
}

/** `host:port` (IPv6 hosts hold colons: the port is after the last one). */
function splitNodeKey(node: string): [string, number] {
  const at = node.lastIndexOf(':')
  return [node.slice(0, at), Number(node.slice(at + 1))]
}

function linkOf(factory: LinkFactory, redis: Redis, sharded: boolean, probeChannel: string): SubscriberLink {
  const { probe, probeIntervalMs, probeTimeoutMs, commandTimeoutMs, events } = factory
  return new SubscriberLink(redis, { sharded, probeChannel, probe, probeIntervalMs, probeTimeoutMs, commandTimeoutMs, events })
}
