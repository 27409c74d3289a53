/**
 * A test double for the engine seam (packages/server/src/engine.ts): an asynchronous engine
 * that keeps the contract (atomic seq, stored before delivered, epochs) but delivers badly on
 * purpose — it drops, duplicates, delays and so reorders publications, answers reads and
 * subscribes late, can restart empty (a new epoch), and can be down (every operation rejects,
 * as a store that cannot be reached). Seeded, so a failure replays.
 */
import type { AsyncEngine, ChannelOptions, EngineHandler, EngineStats, HistoryRead, Position, Publication } from '../../packages/server/src/engine.js'

export interface Faults {
  /** Chance that a publication never reaches this process. */
  drop: number
  /** Chance that it arrives twice. */
  duplicate: number
  /** Deliveries, reads and subscribes take 0..maxDelayMs (random, so deliveries overtake each other). */
  maxDelayMs: number
}

export const NO_FAULTS: Faults = { drop: 0, duplicate: 0, maxDelayMs: 0 }

interface Stored {
  epoch: string
  seq: number
  history: Publication[]
  capacity: number
  retainMs: number
  /** Set while no process holds the channel: it is forgotten (a key's TTL) when it fires. */
  expiry: ReturnType<typeof setTimeout> | undefined
}

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export class FakeEngine implements AsyncEngine {
  readonly synchronous = false
  /** Channels this process receives (what the engine was asked to subscribe, not yet unsubscribed). */
  readonly subscribed = new Set<string>()
  private readonly channels = new Map<string, Stored>()
  private handler: EngineHandler | undefined
  private readonly random: () => number
  private epochs = 0
  private busy = 0
  /** While set, publish, subscribe and read reject with this (the store cannot be reached). */
  private down: Error | undefined
  /** Subscribes refused because the store was down, since start. */
  refusedSubscribes = 0
  private idleWaiters: (() => void)[] = []
  /** While set, reads wait here and are served (the store's state taken) when `resumeReads` runs. */
  private pausedReads: (() => void)[] | undefined
  /** Reads asked of the engine since start (a shared read counts once). */
  reads = 0
  /** The next this many reads fail (a store too slow for the engine's timeout), while the store stays up. */
  private failingReads = 0

  constructor(
    private faults: Faults = NO_FAULTS,
    seed = 1,
  ) {
    this.random = prng(seed)
  }

  start(handler: EngineHandler): void {
    this.handler = handler
  }

  /** Changes the faults from now on (e.g. none, to let a test settle). */
  setFaults(faults: Faults): void {
    this.faults = faults
  }

  /** The store becomes unreachable (every operation rejects) or reachable again. */
  setDown(down: boolean): void {
    this.down = down ? new Error('fake engine: the store cannot be reached') : undefined
  }

  async publish(channel: string, data: unknown, options: ChannelOptions): Promise<Position> {
    if (this.down !== undefined) throw this.down
    const stored = this.channel(channel, options)
    const publication = { seq: ++stored.seq, data }
    if (stored.capacity > 0) {
      stored.history.push(publication)
      if (stored.history.length > stored.capacity) stored.history.shift()
    }
    const epoch = stored.epoch
    if (this.subscribed.has(channel) && this.random() >= this.faults.drop) {
      const copies = this.random() < this.faults.duplicate ? 2 : 1
      for (let i = 0; i < copies; i++) {
        this.later(() => {
          if (this.subscribed.has(channel)) this.handler?.publication(channel, epoch, publication)
        })
      }
    }
    return { epoch, seq: publication.seq }
  }

  subscribe(channel: string, options: ChannelOptions): Promise<void> {
    if (this.down !== undefined) {
      this.refusedSubscribes++
      return Promise.reject(this.down)
    }
    const stored = this.channel(channel, options)
    clearTimeout(stored.expiry)
    stored.expiry = undefined
    // Publications flow from the call on; the acknowledgement comes later (as a Redis SUBSCRIBE's).
    this.subscribed.add(channel)
    return new Promise((resolve) => this.later(resolve))
  }

  async unsubscribe(channel: string): Promise<void> {
    this.subscribed.delete(channel)
    const stored = this.channels.get(channel)
    if (stored === undefined) return
    // Kept retainMs after the last holder (as a TTL would), then forgotten: a new epoch.
    if (stored.retainMs <= 0) this.channels.delete(channel)
    else {
      stored.expiry = setTimeout(() => this.channels.delete(channel), stored.retainMs)
      stored.expiry.unref()
    }
  }

  read(channel: string, since: number | undefined): Promise<HistoryRead> {
    this.reads++
    if (this.down !== undefined) return Promise.reject(this.down)
    if (this.failingReads > 0) {
      this.failingReads--
      return Promise.reject(new Error('fake engine: the read timed out'))
    }
    return new Promise((resolve) => {
      const serve = (): void => {
        const stored = this.channel(channel, { history: 0, retainMs: 0 })
        const publications = since === undefined ? [] : stored.history.filter((publication) => publication.seq > since)
        resolve({ top: { epoch: stored.epoch, seq: stored.seq }, publications })
      }
      // A paused read does not count for `settled`: the test resumes it.
      if (this.pausedReads !== undefined) this.pausedReads.push(serve)
      else this.later(serve)
    })
  }

  /** The next `count` reads fail as a timed-out command would (Infinity: every one), the store staying up. */
  failReads(count: number): void {
    this.failingReads = count
  }

  /** Reads are held unanswered (and the store is not looked at) until `resumeReads`. */
  pauseReads(): void {
    this.pausedReads ??= []
  }

  /** Serves the held reads now, in the order they came, and every later one as usual. */
  resumeReads(): void {
    const paused = this.pausedReads ?? []
    this.pausedReads = undefined
    for (const serve of paused) this.later(serve)
  }

  /**
   * The store forgot one channel while the link stays up (its meta key deleted, FLUSHALL,
   * eviction): the next publish starts a new epoch at seq 1, and nobody is told.
   */
  forget(channel: string): void {
    const stored = this.channels.get(channel)
    if (stored === undefined) return
    stored.epoch = `fake.${++this.epochs}`
    stored.seq = 0
    stored.history = []
  }

  /** The store lost everything (a restart without persistence); the link comes back. */
  restart(): void {
    for (const stored of this.channels.values()) {
      stored.epoch = `fake.${++this.epochs}`
      stored.seq = 0
      stored.history = []
    }
    this.handler?.resync()
  }

  /** The link came back (nothing lost in the store, but deliveries may have been). */
  resync(): void {
    this.handler?.resync()
  }

  /** The position of a channel in the store. */
  top(channel: string): Position | undefined {
    const stored = this.channels.get(channel)
    return stored === undefined ? undefined : { epoch: stored.epoch, seq: stored.seq }
  }

  /** Resolves once no delivery, read or acknowledgement is scheduled (and what they caused ran). */
  async settled(): Promise<void> {
    for (;;) {
      // Promise callbacks of the registry (a join waiting on a subscribe) run first.
      await new Promise<void>((resolve) => setImmediate(resolve))
      if (this.busy === 0) return
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
    }
  }

  get stats(): EngineStats {
    return { state: this.down === undefined ? 'up' : 'down', channels: this.channels.size, retained: 0, retainedBytes: 0, evictions: 0 }
  }

  close(): void {
    this.subscribed.clear()
    for (const stored of this.channels.values()) clearTimeout(stored.expiry)
  }

  private channel(name: string, options: ChannelOptions): Stored {
    let stored = this.channels.get(name)
    if (stored === undefined) {
      stored = { epoch: `fake.${++this.epochs}`, seq: 0, history: [], capacity: options.history, retainMs: options.retainMs, expiry: undefined }
      this.channels.set(name, stored)
    } else if (options.history > stored.capacity) {
      stored.capacity = options.history
      stored.retainMs = options.retainMs
    }
    return stored
  }

  private later(run: () => void): void {
    this.busy++
    const done = (): void => {
      run()
      // What `run` caused (a read it started) counts before this one ends.
      queueMicrotask(() => {
        if (--this.busy === 0) for (const resolve of this.idleWaiters.splice(0)) resolve()
      })
    }
    const delay = Math.floor(this.random() * (this.faults.maxDelayMs + 1))
    if (delay === 0) queueMicrotask(done)
    else setTimeout(done, delay)
  }
}
