/**
 * The Redis engine: topic events stored in Redis and moved between server processes by its
 * pub/sub, behind Patchbay's engine seam (`AsyncEngine`). It only stores and moves; order,
 * replay merge and gap repair are Patchbay's (feed.ts). See README.md for the design.
 *
 * On one Redis server: PUBLISH and SUBSCRIBE on one subscriber connection. On a Redis Cluster:
 * SPUBLISH inside the publish script (the channel's keys and its pub/sub channel share a hash
 * tag, so a slot) and SSUBSCRIBE on one subscriber connection per master (shards.ts).
 */
import type { Cluster, Redis } from 'ioredis'
import type { AsyncEngine, ChannelOptions, DedupeStore, EngineHandler, EngineStats, HistoryRead, IdempotencyOptions, Position, Publication } from '@patchbay/server'
import { CLAIM_LUA, FINISH_LUA, RENEW_LUA, RedisDedupe } from './dedupe.js'
import { listenersOf, type RedisEngineInspection } from './inspect.js'
import { instanceId, keysOf, type ChannelKeys } from './keys.js'
import { asError, Link, RedisEngineError } from './link.js'
import { connectionsOf, type Connections, type RedisEngineOptions } from './options.js'
import { pack, parseMessage, unpack } from './payload.js'
import { FORGET_LUA, PUBLISH_LUA, READ_LUA } from './scripts.js'
import { ClusterShards, SingleShard, type LinkFactory, type Shards } from './shards.js'
import type { SubscriberLink } from './subscriber.js'

interface Channel {
  readonly name: string
  readonly keys: ChannelKeys
  options: ChannelOptions
  /** Subscribes minus unsubscribes from PubSub: SUBSCRIBEd in Redis while above 0. */
  refs: number
  /** Set while kept for returning subscribers (`retainMs`) after the last one left. */
  expiry: ReturnType<typeof setTimeout> | undefined
  /** Publishes of this process waiting for their publication to come back (see `delivered`). */
  waiting: Waiter[]
  /** The last publication handed over here. */
  last: Position | undefined
}

interface Waiter {
  readonly epoch: string
  readonly seq: number
  readonly done: () => void
}

type Script = (meta: string, stream: string, ...args: (string | number | Buffer)[]) => Promise<unknown>

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number, got ${String(value)}`)
  return value
}

class RedisEngine implements AsyncEngine {
  readonly synchronous = false
  private readonly prefix: string
  private readonly commandTimeoutMs: number
  private readonly refreshMs: number
  private readonly probeIntervalMs: number
  private readonly probeTimeoutMs: number
  private readonly onError: ((error: Error) => void) | undefined
  private readonly connections: Connections
  /** PUBLISH or SPUBLISH, and how Redis counts a channel's subscribers, for the scripts. */
  private readonly publishCommand: 'PUBLISH' | 'SPUBLISH'
  private readonly numsubCommand: 'NUMSUB' | 'SHARDNUMSUB'
  /** Channels this process holds or keeps, by name, and by their pub/sub channel. */
  private readonly channels = new Map<string, Channel>()
  private readonly byPubsub = new Map<string, Channel>()
  private handler: EngineHandler | undefined
  private cmd: Link | undefined
  private shards: Shards | undefined
  private refresher: ReturnType<typeof setInterval> | undefined
  /** A subscriber connection came back: its channels are re-subscribed, then every feed resyncs. */
  private resyncDue = false
  private closed = false
  /** Names this process in the epochs it offers: `<instance>.<n>`, as the memory engine's. */
  private readonly instance = instanceId()
  private epochs = 0
  private probes = 0
  private readonly dedupeEnabled: boolean
  private readonly dedupePollMs: number
  private dedupeStore: RedisDedupe | undefined
  private runs = 0

  constructor(options: RedisEngineOptions) {
    this.prefix = options.prefix ?? 'pb:'
    this.commandTimeoutMs = positive(options.commandTimeoutMs ?? 1000, 'commandTimeoutMs')
    this.refreshMs = positive(options.refreshMs ?? 10_000, 'refreshMs')
    this.probeIntervalMs = positive(options.probeIntervalMs ?? 10_000, 'probeIntervalMs')
    this.probeTimeoutMs = positive(options.probeTimeoutMs ?? 2000, 'probeTimeoutMs')
    this.onError = options.onError
    this.connections = connectionsOf(options, this.commandTimeoutMs)
    this.publishCommand = this.connections.cluster ? 'SPUBLISH' : 'PUBLISH'
    this.numsubCommand = this.connections.cluster ? 'SHARDNUMSUB' : 'NUMSUB'
    this.dedupeEnabled = options.dedupe ?? true
    this.dedupePollMs = positive(options.dedupePollMs ?? 1000, 'dedupePollMs')
    // Present only when enabled: the server keeps its in-process window otherwise.
    if (this.dedupeEnabled) this.dedupe = (idempotency) => this.createDedupe(idempotency)
  }

  dedupe?: (options: IdempotencyOptions) => DedupeStore

  private createDedupe(options: IdempotencyOptions): DedupeStore {
    const cmd = this.link()
    cmd.redis.defineCommand('pbClaim', { lua: CLAIM_LUA, numberOfKeys: 2 })
    cmd.redis.defineCommand('pbFinish', { lua: FINISH_LUA, numberOfKeys: 2 })
    cmd.redis.defineCommand('pbRenew', { lua: RENEW_LUA, numberOfKeys: 1 })
    const store = new RedisDedupe(
      {
        prefix: this.prefix,
        publishCommand: this.publishCommand,
        command: async () => {
          const link = this.link()
          await link.whenReady(this.commandTimeoutMs)
          return link.redis
        },
        listen: (channel) => {
          const link = this.closed ? undefined : this.shards?.route(channel)
          return link?.ready === true ? link.subscribe(channel, this.commandTimeoutMs) : undefined
        },
        unlisten: (channel) => {
          this.shards
            ?.route(channel)
            ?.unsubscribe(channel)
            .catch(() => undefined)
        },
        runId: () => `${this.instance}.r${++this.runs}`,
        onError: this.onError,
      },
      options,
      Math.max(1, Math.min(this.dedupePollMs, options.windowMs / 4)),
    )
    this.dedupeStore = store
    return store
  }

  start(handler: EngineHandler): void {
    if (this.handler !== undefined) throw new TypeError('This Redis engine already serves a server; create one per server')
    this.handler = handler
    const command = this.connections.command()
    this.watch(command, 'command')
    const cmd = new Link(command)
    this.cmd = cmd
    for (const [name, lua, keys] of [
      ['pbPublish', PUBLISH_LUA, 2],
      ['pbRead', READ_LUA, 2],
      ['pbForget', FORGET_LUA, 2],
    ] as const) {
      command.defineCommand(name, { lua, numberOfKeys: keys })
    }
    const factory: LinkFactory = {
      connect: (node) => this.watch(this.connections.subscriber(node), 'subscriber'),
      probeChannel: (fitsIn) => {
        // On a cluster, a channel whose slot is the link's master's (a few tries: 1 in N fits).
        for (;;) {
          const channel = `${this.prefix}probe{${this.instance}.${++this.probes}}`
          if (fitsIn === undefined || fitsIn(channel)) return channel
        }
      },
      probe: async (channel, token) => {
        await cmd.whenReady(this.commandTimeoutMs)
        return Number(await (this.connections.cluster ? cmd.redis.spublish(channel, token) : cmd.redis.publish(channel, token)))
      },
      probeIntervalMs: this.probeIntervalMs,
      probeTimeoutMs: this.probeTimeoutMs,
      commandTimeoutMs: this.commandTimeoutMs,
      events: {
        message: (channel, message) => this.message(channel, message),
        resubscribed: () => {
          this.resyncDue = true
          this.resyncIfDue()
        },
        // Publications in flight on the lost connection will not come: publishes waiting for
        // theirs go on (their events reach local subscribers through the resync's repair).
        closed: (link) => {
          for (const channel of this.channels.values()) {
            if (channel.waiting.length > 0 && this.shards?.route(channel.keys.pubsub) === link) for (const waiter of [...channel.waiting]) waiter.done()
          }
        },
        dead: (error) => {
          if (!this.closed) this.onError?.(Object.assign(error, { role: 'subscriber' }))
        },
      },
    }
    this.shards = this.connections.cluster
      ? new ClusterShards(command as Cluster, factory, () => {
          this.resyncDue = true
          this.resyncIfDue()
        })
      : new SingleShard(factory)
    command.on('ready', () => this.resyncIfDue())
    void command.connect().catch(() => undefined)
    this.refresher = setInterval(() => this.refresh(), this.refreshMs)
    this.refresher.unref()
  }

  async publish(channel: string, data: unknown, options: ChannelOptions): Promise<Position> {
    const cmd = this.link()
    await cmd.whenReady(this.commandTimeoutMs)
    const keys = keysOf(this.prefix, channel)
    try {
      const [epoch, seq] = (await this.script(cmd, 'pbPublish')(
        keys.meta,
        keys.stream,
        this.newEpoch(),
        options.history,
        this.ttl(options),
        pack(data),
        keys.pubsub,
        this.publishCommand,
      )) as [string, number]
      const position = { epoch, seq }
      const held = this.channels.get(channel)
      return held === undefined || held.refs === 0 ? position : await this.delivered(held, position)
    } catch (error) {
      throw asError(error)
    }
  }

  async subscribe(name: string, options: ChannelOptions): Promise<void> {
    const channel = this.entry(name, options)
    channel.refs++
    clearTimeout(channel.expiry)
    channel.expiry = undefined
    if (channel.refs > 1) return
    try {
      // On a cluster the slot map comes with the command connection: its master's link after.
      await this.link().whenReady(this.commandTimeoutMs)
      const link = this.shards?.route(channel.keys.pubsub)
      if (link === undefined) throw new RedisEngineError('No Redis node serves this channel now')
      // Resolves on Redis's confirmation: from here on, publications reach this process.
      await link.subscribe(channel.keys.pubsub, this.commandTimeoutMs)
    } catch (error) {
      // PubSub does not unsubscribe a channel whose subscribe failed: undone here.
      channel.refs--
      if (channel.refs === 0) this.release(channel)
      throw asError(error)
    }
  }

  async unsubscribe(name: string): Promise<void> {
    const channel = this.channels.get(name)
    if (channel === undefined || channel.refs === 0) return
    channel.refs--
    if (channel.refs === 0) this.release(channel)
  }

  async read(name: string, since: number | undefined, delivered?: string): Promise<HistoryRead> {
    const cmd = this.link()
    await cmd.whenReady(this.commandTimeoutMs)
    const keys = keysOf(this.prefix, name)
    const options = this.channels.get(name)?.options
    try {
      const [epoch, top, entries] = (await this.script(cmd, 'pbReadBuffer')(
        keys.meta,
        keys.stream,
        this.newEpoch(),
        since ?? -1,
        options === undefined ? this.refreshMs * 2 : this.ttl(options),
        delivered ?? '',
      )) as [Buffer, number, [Buffer, Buffer[]][]]
      const publications: Publication[] = []
      for (const [id, fields] of entries) {
        const bytes = fields[1]
        if (bytes === undefined) continue
        publications.push({ seq: Number.parseInt(id.toString('latin1'), 10), data: unpack(bytes) })
      }
      return { top: { epoch: epoch.toString('latin1'), seq: top }, publications }
    } catch (error) {
      throw asError(error)
    }
  }

  /** `down` while the command connection or any subscriber connection (any master's, on a cluster) is. */
  get stats(): EngineStats {
    const links = this.shards === undefined ? [] : [...this.shards.links()]
    const up = this.cmd?.ready === true && links.length > 0 && links.every((link) => link.ready)
    return { state: up ? 'up' : 'down', channels: this.channels.size, retained: 0, retainedBytes: 0, evictions: 0 }
  }

  /** See {@link inspectRedisEngine}. */
  inspect(): RedisEngineInspection {
    const links = this.shards === undefined ? [] : [...this.shards.links()]
    const connections = [
      ...(this.cmd === undefined ? [] : [{ role: 'command' as const, status: this.cmd.redis.status, listeners: listenersOf(this.cmd.redis) }]),
      ...links.map((link) => ({ role: 'subscriber' as const, status: link.redis.status, listeners: listenersOf(link.redis) })),
    ]
    let held = 0
    let waiting = 0
    for (const channel of this.channels.values()) {
      if (channel.refs > 0) held++
      waiting += channel.waiting.length
    }
    const subscribed = links.reduce((sum, link) => sum + link.channels.size, 0)
    return { connections, held, kept: this.channels.size - held, subscribed, waiting }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.dedupeStore?.close()
    clearInterval(this.refresher)
    for (const channel of this.channels.values()) clearTimeout(channel.expiry)
    this.channels.clear()
    this.byPubsub.clear()
    this.shards?.close()
    // disconnect(), not QUIT: no round trip to a Redis that may be gone. The error listeners
    // stay attached, so a late error cannot become an unhandled 'error' event.
    this.cmd?.redis.disconnect()
  }

  /** Never an unhandled 'error' event (that would crash the process): the state goes down, publishes fail, the hook hears of it. */
  private watch<Client extends Redis | Cluster>(redis: Client, role: string): Client {
    const report = (error: Error): void => {
      if (!this.closed) this.onError?.(Object.assign(error, { role }))
    }
    redis.on('error', report)
    // A Cluster reports its masters' connection errors apart.
    redis.on('node error', report)
    return redis
  }

  private link(): Link {
    const link = this.cmd
    if (link === undefined || this.closed) throw new RedisEngineError(this.closed ? 'The Redis engine is closed' : 'The Redis engine was not started')
    return link
  }

  private script(link: Link, name: string): Script {
    const redis = link.redis as unknown as Record<string, Script>
    return (redis[name] as Script).bind(redis)
  }

  /**
   * An epoch for a channel that has none in Redis, offered with every publish and read (Redis
   * keeps the first it gets; §12.1: 1–64 characters of [A-Za-z0-9_.-]).
   */
  private newEpoch(): string {
    return `${this.instance}.${++this.epochs}`
  }

  /** Key TTL: at least the topic's retainMs after the last renewal (see `refreshMs`). */
  private ttl(options: ChannelOptions): number {
    return Math.max(0, options.retainMs) + 2 * this.refreshMs
  }

  private entry(name: string, options: ChannelOptions): Channel {
    let channel = this.channels.get(name)
    if (channel === undefined) {
      channel = { name, keys: keysOf(this.prefix, name), options, refs: 0, expiry: undefined, waiting: [], last: undefined }
      this.channels.set(name, channel)
      this.byPubsub.set(channel.keys.pubsub, channel)
    } else channel.options = options
    return channel
  }

  /** The last local subscriber left: UNSUBSCRIBE, then keep (retainMs) or forget the channel. */
  private release(channel: Channel): void {
    const link = this.shards?.route(channel.keys.pubsub)
    const unsubscribed = link === undefined ? Promise.resolve() : link.unsubscribe(channel.keys.pubsub)
    const cmd = this.cmd
    if (channel.options.retainMs <= 0) {
      this.drop(channel)
      // Forgotten in Redis too, unless another node still holds it (§12.1, retainMs 0): once
      // Redis took our UNSUBSCRIBE (another connection), so that NUMSUB no longer counts us.
      unsubscribed
        .then(() =>
          cmd?.ready === true && channel.refs === 0 ? this.script(cmd, 'pbForget')(channel.keys.meta, channel.keys.stream, channel.keys.pubsub, this.numsubCommand) : undefined,
        )
        .catch(() => undefined)
      return
    }
    unsubscribed.catch(() => undefined)
    // The keys outlive this moment by at least retainMs; this process counts the channel as
    // kept for as long.
    if (cmd?.ready === true) this.touch(cmd, [channel])
    channel.expiry = setTimeout(() => {
      if (channel.refs === 0) this.drop(channel)
    }, channel.options.retainMs)
    channel.expiry.unref()
  }

  private drop(channel: Channel): void {
    clearTimeout(channel.expiry)
    if (this.channels.get(channel.name) === channel) {
      this.channels.delete(channel.name)
      this.byPubsub.delete(channel.keys.pubsub)
    }
  }

  private message(name: string, message: Buffer): void {
    const channel = this.byPubsub.get(name)
    if (channel === undefined) {
      this.dedupeStore?.message(name, message)
      return
    }
    if (channel.refs === 0) return
    const parsed = parseMessage(message)
    // A message that does not parse is a gap the feed repairs from the stream.
    if (parsed === undefined) return
    this.handler?.publication(channel.name, parsed.epoch, { seq: parsed.seq, data: parsed.data })
    channel.last = { epoch: parsed.epoch, seq: parsed.seq }
    if (channel.waiting.length === 0) return
    for (const waiter of [...channel.waiting]) if (waiter.epoch !== parsed.epoch || waiter.seq <= parsed.seq) waiter.done()
  }

  /**
   * Resolves with `position` once this process handed it to its subscribers (or a later seq,
   * or another epoch), at most `commandTimeoutMs` later: the publish reply and the
   * publication come on two connections, in no set order, and `server.publish` promises that
   * local subscribers were handed the event (its `delivered` count) when it resolves.
   */
  private delivered(channel: Channel, position: Position): Promise<Position> {
    const last = channel.last
    if (last !== undefined && last.epoch === position.epoch && last.seq >= position.seq) return Promise.resolve(position)
    // Not subscribed right now: it comes by the resync's repair, if at all.
    if (this.shards?.route(channel.keys.pubsub)?.ready !== true) return Promise.resolve(position)
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(), this.commandTimeoutMs)
      timer.unref()
      const done = (): void => {
        clearTimeout(timer)
        channel.waiting = channel.waiting.filter((waiter) => waiter !== entry)
        resolve(position)
      }
      const entry: Waiter = { epoch: position.epoch, seq: position.seq, done }
      channel.waiting.push(entry)
    })
  }

  /** Tells the feeds to look for gaps once the command connection is ready (the reads need it). */
  private resyncIfDue(): void {
    if (!this.resyncDue || this.closed || this.cmd?.ready !== true) return
    this.resyncDue = false
    this.handler?.resync()
  }

  /** Renews the TTL of every held channel, so an idle held channel is not forgotten. */
  private refresh(): void {
    const cmd = this.cmd
    if (cmd?.ready !== true) return
    const held = [...this.channels.values()].filter((channel) => channel.refs > 0)
    if (held.length > 0) this.touch(cmd, held)
  }

  /** PEXPIRE of the channels' keys: one pipeline, or on a cluster one per master (a pipeline stays on one node). */
  private touch(cmd: Link, channels: readonly Channel[]): void {
    const groups = new Map<SubscriberLink | undefined, Channel[]>()
    for (const channel of channels) {
      const group = this.connections.cluster ? this.shards?.route(channel.keys.pubsub) : undefined
      groups.set(group, [...(groups.get(group) ?? []), channel])
    }
    for (const group of groups.values()) {
      const pipeline = cmd.redis.pipeline()
      for (const channel of group) {
        const ttl = this.ttl(channel.options)
        pipeline.pexpire(channel.keys.meta, ttl).pexpire(channel.keys.stream, ttl)
      }
      pipeline.exec().catch(() => undefined)
    }
  }
}

/**
 * What a Redis engine holds now and what listens on its connections (read-only, counted when
 * called): for leak checks and debugging. Throws a TypeError for an engine that
 * {@link createRedisEngine} did not make.
 */
export function inspectRedisEngine(engine: AsyncEngine): RedisEngineInspection {
  if (!(engine instanceof RedisEngine)) throw new TypeError('inspectRedisEngine takes an engine made by createRedisEngine')
  return engine.inspect()
}

/**
 * Creates the Redis engine for one server: `createServer(api, { engine: createRedisEngine({ url }) })`,
 * or `createRedisEngine({ cluster: { nodes: [{ host, port }] } })` on a Redis Cluster. Every server
 * process on the same Redis (and `prefix`) shares the topics' seqs, history and publications.
 * It connects when the server starts it, and reconnects by itself.
 */
export function createRedisEngine(options: RedisEngineOptions): AsyncEngine {
  return new RedisEngine(options)
}
