/**
 * The in-memory engine with one fault on cue, for servers that must show what a scale-out
 * engine's failure looks like on the wire while keeping the synchronous path (the Python
 * interop server): `restart(channel)` makes the channel's sequence start again in a new epoch
 * under its live subscribers, as a Redis that lost its data does, and tells the server that its
 * link came back. The memory engine itself keeps counting; this wrapper shows its seqs from the
 * restart on, renumbered from 1, under the new epoch. For a channel held for as long as the
 * test runs (a restarted channel that the memory engine then forgot is not handled).
 * docs/protocol.md §12.1, §14.
 */
import { createMemoryEngine, type EngineHandler, type HistoryRead, type Position, type Publication, type SyncEngine } from '@patchbay/server'

interface Restarted {
  readonly epoch: string
  /** The memory engine's seq at the restart: seq n of the new epoch is its base + n. */
  readonly base: number
}

export class RestartableEngine implements SyncEngine {
  readonly synchronous = true
  private readonly inner = createMemoryEngine()
  private readonly restarted = new Map<string, Restarted>()
  private handler: EngineHandler | undefined
  private restarts = 0

  start(handler: EngineHandler): void {
    this.handler = handler
    this.inner.start({
      publication: (channel, epoch, publication) => {
        const shown = this.show(channel, epoch, publication)
        if (shown !== undefined) handler.publication(channel, shown.epoch, shown.publication)
      },
      resync: () => handler.resync(),
      measure: (channel, publication) => handler.measure(channel, this.show(channel, '', publication)?.publication ?? publication),
    })
  }

  get stats(): SyncEngine['stats'] {
    return this.inner.stats
  }

  close(): void | Promise<void> {
    return this.inner.close()
  }

  publish(channel: string, data: unknown): Position | undefined {
    const position = this.inner.publish(channel, data)
    const restarted = this.restarted.get(channel)
    return position === undefined || restarted === undefined ? position : { epoch: restarted.epoch, seq: position.seq - restarted.base }
  }

  subscribe(channel: string, options: Parameters<SyncEngine['subscribe']>[1]): void {
    this.inner.subscribe(channel, options)
  }

  unsubscribe(channel: string): void {
    this.inner.unsubscribe(channel)
  }

  read(channel: string, since: number | undefined): HistoryRead {
    const restarted = this.restarted.get(channel)
    if (restarted === undefined) return this.inner.read(channel, since)
    const read = this.inner.read(channel, since === undefined ? undefined : since + restarted.base)
    return {
      top: { epoch: restarted.epoch, seq: read.top.seq - restarted.base },
      // What the memory engine kept from before the restart is the lost epoch's: not shown.
      publications: read.publications.filter((publication) => publication.seq > restarted.base).map((publication) => ({ seq: publication.seq - restarted.base, data: publication.data })),
    }
  }

  /** The channel's sequence starts again (the store lost it); returns the new epoch. */
  restart(channel: string): string {
    const top = this.inner.read(channel, undefined).top
    const restarted = { epoch: `${top.epoch}.r${++this.restarts}`, base: top.seq }
    this.restarted.set(channel, restarted)
    // As an engine whose link came back: the server reads the channel's position and finds the new epoch.
    this.handler?.resync()
    return restarted.epoch
  }

  private show(channel: string, epoch: string, publication: Publication): { epoch: string; publication: Publication } | undefined {
    const restarted = this.restarted.get(channel)
    if (restarted === undefined) return { epoch, publication }
    if (publication.seq <= restarted.base) return undefined
    return { epoch: restarted.epoch, publication: { seq: publication.seq - restarted.base, data: publication.data } }
  }
}
