/**
 * One direction of an in-memory connection (adapters/memory.ts): frames delivered in order,
 * in batches on later turns of the event loop, never in the turn that sent them. Like a TCP
 * connection, up to `capacity` bytes are "in the network" (the kernel's buffers: sent, not
 * yet read) without counting in the sender's `bufferedAmount`; past that, what the reader has
 * not taken counts there, so a stalled reader makes the sender's buffer grow as on a socket.
 * A reader that reads takes everything each turn: buffers are modelled, bandwidth is not.
 * Runtime-free.
 */
import type { Frame } from '@patchbay/core'

/** A frame, or the close frame that ends the direction. */
export type PipeItem = { readonly kind: 'frame'; readonly data: Frame; readonly size: number } | { readonly kind: 'close'; readonly code: number; readonly reason: string; readonly size: 0 }

/** Runs `task` on a later turn: after I/O where the runtime can say so (Node's setImmediate). */
export const later: (task: () => void) => void =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === 'function'
    ? (task) => void (globalThis as unknown as { setImmediate: (task: () => void) => unknown }).setImmediate(task)
    : (task) => void setTimeout(task, 0)

/** Compacts the queue's array once this many items were taken from its front. */
const COMPACT_AFTER = 1024

/** One direction: a writer pushes, the reader is handed items by `deliver` unless stalled. */
export class Pipe {
  private items: PipeItem[] = []
  /** Index of the oldest item not yet delivered. */
  private head = 0
  /** Items from `head` on that are in the network (not counted in `bufferedAmount`). */
  private absorbed = 0
  private absorbedBytes = 0
  private totalBytes = 0
  private stalled = false
  private scheduled = false
  private ended = false
  private drainListeners: (() => void)[] = []

  constructor(
    /** Bytes the network holds for a reader that does not read, before the writer's buffer grows. */
    private readonly capacity: number,
    private readonly deliver: (item: PipeItem) => void,
  ) {}

  /** Bytes written and neither delivered nor taken by the network. */
  get bufferedAmount(): number {
    return this.totalBytes - this.absorbedBytes
  }

  /** Frames counted in `bufferedAmount`. */
  get bufferedFrames(): number {
    return this.items.length - this.head - this.absorbed
  }

  push(item: PipeItem): void {
    if (this.ended) return
    this.items.push(item)
    this.totalBytes += item.size
    this.absorb()
    this.schedule()
  }

  /** The reader stops taking items: they stay in the network, then in the writer's buffer. */
  stall(): void {
    this.stalled = true
  }

  resume(): void {
    if (!this.stalled) return
    this.stalled = false
    this.schedule()
  }

  /** Calls `listener` once, on a later turn, when `bufferedAmount` is 0. */
  onceDrained(listener: () => void): void {
    if (this.ended) return
    this.drainListeners.push(listener)
    this.schedule()
  }

  /** The connection is gone: nothing more is delivered, nothing more is buffered. */
  end(): void {
    this.ended = true
    this.items = []
    this.head = this.absorbed = this.absorbedBytes = this.totalBytes = 0
    this.drainListeners = []
  }

  /** Moves what fits from the writer's buffer into the network (one item always moves). */
  private absorb(): void {
    const items = this.items
    while (this.head + this.absorbed < items.length) {
      const next = items[this.head + this.absorbed] as PipeItem
      if (this.absorbed > 0 && this.absorbedBytes + next.size > this.capacity) return
      this.absorbed++
      this.absorbedBytes += next.size
    }
  }

  private schedule(): void {
    if (this.scheduled || this.ended) return
    this.scheduled = true
    later(() => this.flush())
  }

  private flush(): void {
    this.scheduled = false
    if (this.ended) return
    // A reader that reads takes everything written before this turn (bandwidth is not
    // modelled, buffers are); what is written while it reads waits for the next turn.
    let batch = this.stalled ? 0 : this.items.length - this.head
    while (batch-- > 0 && !this.stalled && !this.ended) {
      const item = this.items[this.head] as PipeItem
      this.items[this.head++] = undefined as unknown as PipeItem
      this.absorbed--
      this.absorbedBytes -= item.size
      this.totalBytes -= item.size
      this.absorb()
      this.deliver(item)
    }
    if (this.ended) return
    if (this.head >= COMPACT_AFTER && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    if (this.bufferedAmount === 0 && this.drainListeners.length > 0) {
      const listeners = this.drainListeners
      this.drainListeners = []
      for (const listener of listeners) listener()
    }
    if (!this.stalled && this.items.length > this.head) this.schedule()
    else if (this.drainListeners.length > 0 && !this.stalled) this.schedule()
  }
}
