/**
 * The Redis engine: topic events stored in Redis and moved between server processes by its
 * pub/sub, behind Patchbay's engine seam (`AsyncEngine`). It only stores and moves; order,
 * replay merge and gap repair are Patchbay's (feed.ts). See README.md for the design.
 */
import { Redis, type RedisOptions } from 'ioredis'
import type { AsyncEngine, ChannelOptions, DedupeStore, EngineHandler, EngineStats, HistoryRead, IdempotencyOptions, Position, Publication } from '@patchbay/server'
import { CLAIM_LUA, FINISH_LUA, RENEW_LUA, RedisDedupe } from './dedupe.js'
import { instanceId, keysOf, type ChannelKeys } from './keys.js'
import { pack, parseMessage, unpack } from './payload.js'
import { FORGET_LUA, PUBLISH_LUA, READ_LUA } from './scripts.js'

/** Options shared by both ways of naming the Redis server. */
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

/** {@link createRedisEngine}'s options: a URL, or ioredis's connection options. */
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

/**
 * The error of an operation the engine could not do because Redis is unreachable or failed.
 * Patchbay's server turns it into `UNAVAILABLE` (retryable, docs/protocol.md §6) for
 * `server.publish` and a client's `pub` or `sub`, keeping it as the error's `cause`.
 */
export class RedisEngineError extends Error {
  override readonly name = 'RedisEngineError'
}

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

/** Subscribes sent in one command after a reconnect (Centrifuge batches 512 as well). */
const SUBSCRIBE_BATCH = 512

type Script = (meta: string, stream: string, ...args: (string | number | Buffer)[]) => Promise<unknown>

/** A connection's state as the engine sees it: `failed` once it lost Redis, until ready again. */
class Link {
  failed = false
  everReady = false
  constructor(readonly redis: Redis) {
    redis.on('ready', () => {
      this.failed = false
      this.everReady = true
    })
    const fail = (): void => {
      this.failed = true
    }
    redis.on('close', fail)
    redis.on('error', fail)
  }

  get ready(): boolean {
    return this.redis.status === 'ready'
  }

  /**
   * Resolves once the connection is ready: at once when it is, with an error at once when it
   * lost Redis (fail fast, no queue), and within `timeoutMs` while it connects the first time.
   */
  whenReady(timeoutMs: number): Promise<void> {
    if (this.ready) return Promise.resolve()
    if (this.failed || this.everReady) return Promise.reject(new RedisEngineError('Redis is unreachable'))
    return new Promise((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer)
        this.redis.off('ready', onReady)
        this.redis.off('close', onClose)
        if (error === undefined) resolve()
        else reject(error)
      }
      const onReady = (): void => done()
      const onClose = (): void => done(new RedisEngineError('Redis is unreachable'))
      const timer = setTimeout(() => done(new RedisEngineError(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs)
      this.redis.on('ready', onReady)
      this.redis.on('close', onClose)
    })
  }
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number, got ${String(value)}`)
  return value
}

function asError(error: unknown): RedisEngineError {
  if (error instanceof RedisEngineError) return error
  return new RedisEngineError(error instanceof Error ? error.message : String(error), { cause: error })
}

class RedisEngine implements AsyncEngine {
  readonly synchronous = false
  private readonly prefix: string
  private readonly commandTimeoutMs: number
  private readonly refreshMs: number
  private readonly onError: ((error: Error) => void) | undefined
  private readonly connection: RedisOptions & { replyMapping: 'legacy' }
  /** Channels this process holds or keeps, by name, and by their pub/sub channel. */
  private readonly channels = new Map<string, Channel>()
  private readonly byPubsub = new Map<string, Channel>()
  private handler: EngineHandler | undefined
  private cmd: Link | undefined
  private sub: Link | undefined
  private refresher: ReturnType<typeof setInterval> | undefined
  /** The subscriber connection came back: held channels are re-subscribed, then resync'd. */
  private resyncDue = false
  private subscriberReadyBefore = false
  private closed = false
  /** Names this process in the epochs it offers: `<instance>.<n>`, as the memory engine's. */
  private readonly instance = instanceId()
  private epochs = 0

  constructor(options: RedisEngineOptions) {
    this.prefix = options.prefix ?? 'pb:'
    this.commandTimeoutMs = positive(options.commandTimeoutMs ?? 1000, 'commandTimeoutMs')
    this.refreshMs = positive(options.refreshMs ?? 10_000, 'refreshMs')
    this.onError = options.onError
    const base: RedisOptions = 'url' in options ? {} : options.redis
    this.connection = {
      retryStrategy: (times) => Math.min(times * 50, 1000),
      ...base,
      // What the guarantees rest on, whatever was passed: a command either runs once or
      // fails now (an offline queue or a resend could publish twice, or late), and the engine
      // re-subscribes itself so that it knows when to look for gaps.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      autoResubscribe: false,
      commandTimeout: this.commandTimeoutMs,
      lazyConnect: true,
      // Replies in RESP2 shapes (arrays), which the scripts' results are parsed as.
      replyMapping: 'legacy',
    }
    this.url = 'url' in options ? options.url : undefined
    this.dedupeEnabled = options.dedupe ?? true
    this.dedupePollMs = positive(options.dedupePollMs ?? 1000, 'dedupePollMs')
    // Present only when enabled: the server keeps its in-process window otherwise.
    if (this.dedupeEnabled) this.dedupe = (idempotency) => this.createDedupe(idempotency)
  }

  dedupe?: (options: IdempotencyOptions) => DedupeStore

  private createDedupe(options: IdempotencyOptions): DedupeStore {
    const cmd = this.link('cmd')
    cmd.redis.defineCommand('pbClaim', { lua: CLAIM_LUA, numberOfKeys: 2 })
    cmd.redis.defineCommand('pbFinish', { lua: FINISH_LUA, numberOfKeys: 2 })
    cmd.redis.defineCommand('pbRenew', { lua: RENEW_LUA, numberOfKeys: 1 })
    const store = new RedisDedupe(
      {
        prefix: this.prefix,
        command: async () => {
          const link = this.link('cmd')
          await link.whenReady(this.commandTimeoutMs)
          return link.redis
        },
        subscriber: () => (this.sub?.ready === true && !this.closed ? this.sub.redis : undefined),
        runId: () => `${this.instance}.r${++this.runs}`,
        onError: this.onError,
      },
      options,
      Math.max(1, Math.min(this.dedupePollMs, options.windowMs / 4)),
    )
    this.dedupeStore = store
    return store
  }

  private readonly url: string | undefined
  private readonly dedupeEnabled: boolean
  private readonly dedupePollMs: number
  private dedupeStore: RedisDedupe | undefined
  private runs = 0

  start(handler: EngineHandler): void {
    if (this.handler !== undefined) throw new TypeError('This Redis engine already serves a server; create one per server')
    this.handler = handler
    const cmd = new Link(this.connect('command'))
    const sub = new Link(this.connect('subscriber'))
    this.cmd = cmd
    this.sub = sub
    for (const [name, lua, keys] of [
      ['pbPublish', PUBLISH_LUA, 2],
      ['pbRead', READ_LUA, 2],
      ['pbForget', FORGET_LUA, 2],
    ] as const) {
      cmd.redis.defineCommand(name, { lua, numberOfKeys: keys })
    }
    // One listener for every channel, dispatching by name (no listener per channel).
    sub.redis.on('messageBuffer', (pubsub: Buffer, message: Buffer) => this.message(pubsub, message))
    sub.redis.on('ready', () => this.subscriberReady())
    // Publications in flight on the lost connection will not come: publishes waiting for
    // theirs go on (their events reach local subscribers through the resync's repair).
    sub.redis.on('close', () => {
      for (const channel of this.channels.values()) for (const waiter of [...channel.waiting]) waiter.done()
    })
    cmd.redis.on('ready', () => this.resyncIfDue())
    this.refresher = setInterval(() => this.refresh(), this.refreshMs)
    this.refresher.unref()
  }

  async publish(channel: string, data: unknown, options: ChannelOptions): Promise<Position> {
    const cmd = this.link('cmd')
    await cmd.whenReady(this.commandTimeoutMs)
    const keys = keysOf(this.prefix, channel)
    try {
      const [epoch, seq] = (await this.script(cmd, 'pbPublish')(keys.meta, keys.stream, this.newEpoch(), options.history, this.ttl(options), pack(data), keys.pubsub)) as [string, number]
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
      const sub = this.link('sub')
      await sub.whenReady(this.commandTimeoutMs)
      // Resolves on Redis's confirmation: from here on, publications reach this process.
      await sub.redis.subscribe(channel.keys.pubsub)
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

  async read(name: string, since: number | undefined): Promise<HistoryRead> {
    const cmd = this.link('cmd')
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

  get stats(): EngineStats {
    const up = this.cmd?.ready === true && this.sub?.ready === true
    return { state: up ? 'up' : 'down', channels: this.channels.size, retained: 0, retainedBytes: 0, evictions: 0 }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.dedupeStore?.close()
    clearInterval(this.refresher)
    for (const channel of this.channels.values()) clearTimeout(channel.expiry)
    this.channels.clear()
    this.byPubsub.clear()
    // disconnect(), not QUIT: no round trip to a Redis that may be gone. The error listeners
    // stay attached, so a late error cannot become an unhandled 'error' event.
    this.sub?.redis.disconnect()
    this.cmd?.redis.disconnect()
  }

  private connect(role: string): Redis {
    const redis = this.url === undefined ? new Redis(this.connection) : new Redis(this.url, this.connection)
    // Never an unhandled 'error' event (that would crash the process): the state goes down,
    // publishes fail, and the hook hears of it.
    redis.on('error', (error: Error) => {
      if (!this.closed) this.onError?.(Object.assign(error, { role }))
    })
    void redis.connect().catch(() => undefined)
    return redis
  }

  private link(which: 'cmd' | 'sub'): Link {
    const link = this[which]
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
    const sub = this.sub
    const unsubscribed = sub?.ready === true ? sub.redis.unsubscribe(channel.keys.pubsub) : Promise.resolve()
    const cmd = this.cmd
    if (channel.options.retainMs <= 0) {
      this.drop(channel)
      // Forgotten in Redis too, unless another node still holds it (§12.1, retainMs 0): once
      // Redis took our UNSUBSCRIBE (another connection), so that NUMSUB no longer counts us.
      unsubscribed
        .then(() => (cmd?.ready === true && channel.refs === 0 ? this.script(cmd, 'pbForget')(channel.keys.meta, channel.keys.stream, channel.keys.pubsub) : undefined))
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

  private message(pubsub: Buffer, message: Buffer): void {
    const name = pubsub.toString('latin1')
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
    if (this.sub?.ready !== true) return Promise.resolve(position)
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

  /**
   * The subscriber connection is (again) ready: every held channel is SUBSCRIBEd again in
   * batches (Redis dropped them with the connection), then the feeds look for what they
   * missed meanwhile.
   */
  private subscriberReady(): void {
    const sub = this.sub
    if (sub === undefined || this.closed) return
    const again = this.subscriberReadyBefore
    this.subscriberReadyBefore = true
    const names = [...this.channels.values()].filter((channel) => channel.refs > 0).map((channel) => channel.keys.pubsub)
    const batches: Promise<unknown>[] = []
    for (let at = 0; at < names.length; at += SUBSCRIBE_BATCH) batches.push(sub.redis.subscribe(...names.slice(at, at + SUBSCRIBE_BATCH)))
    Promise.all(batches).then(
      () => {
        if (!again) return
        this.resyncDue = true
        this.resyncIfDue()
      },
      // The connection dropped again: its next 'ready' starts over.
      () => undefined,
    )
  }

  /** Tells the feeds to look for gaps once both connections are back (the reads need the command one). */
  private resyncIfDue(): void {
    if (!this.resyncDue || this.closed || this.cmd?.ready !== true || this.sub?.ready !== true) return
    this.resyncDue = false
    this.handler?.resync()
  }

  /** Renews the TTL of every held channel (one pipeline), so an idle held channel is not forgotten. */
  private refresh(): void {
    const cmd = this.cmd
    if (cmd?.ready !== true) return
    const held = [...this.channels.values()].filter((channel) => channel.refs > 0)
    if (held.length > 0) this.touch(cmd, held)
  }

  private touch(cmd: Link, channels: readonly Channel[]): void {
    const pipeline = cmd.redis.pipeline()
    for (const channel of channels) {
      const ttl = this.ttl(channel.options)
      pipeline.pexpire(channel.keys.meta, ttl).pexpire(channel.keys.stream, ttl)
    }
    pipeline.exec().catch(() => undefined)
  }
}

/**
 * Creates the Redis engine for one server: `createServer(api, { engine: createRedisEngine({ url }) })`.
 * Every server process on the same Redis (and `prefix`) shares the topics' seqs, history and
 * publications. It connects when the server starts it, and reconnects by itself.
 */
export function createRedisEngine(options: RedisEngineOptions): AsyncEngine {
  return new RedisEngine(options)
}
