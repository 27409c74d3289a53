/**
 * A fixed-size window of the newest points: the page's memory for a series stays the same
 * however long it runs. Pushing past the capacity overwrites the oldest point.
 */
export class Ring<T> {
  private readonly slots: (T | undefined)[]
  private next = 0
  private filled = 0

  constructor(readonly capacity: number) {
    this.slots = new Array<T | undefined>(capacity).fill(undefined)
  }

  /** Points held now: at most `capacity`. */
  get size(): number {
    return this.filled
  }

  push(value: T): void {
    this.slots[this.next] = value
    this.next = (this.next + 1) % this.capacity
    this.filled = Math.min(this.capacity, this.filled + 1)
  }

  /** The points held, oldest first (a new array: for one render). */
  toArray(): T[] {
    const start = this.filled < this.capacity ? 0 : this.next
    const out: T[] = []
    for (let i = 0; i < this.filled; i++) out.push(this.slots[(start + i) % this.capacity] as T)
    return out
  }

  clear(): void {
    this.slots.fill(undefined)
    this.next = 0
    this.filled = 0
  }
}
