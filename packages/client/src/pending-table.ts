/**
 * Requests waiting for an answer, by id. Ids count up (§4.1), so the ones in flight sit in a
 * narrow window: a fixed ring indexed by `id & mask` finds them without hashing and, unlike a
 * Map under constant insert and delete, never rebuilds its table, which had made each call's
 * bookkeeping survive into the old generation. A request whose slot is still held by an older
 * one (a long stream, a slow call) goes to a small overflow Map instead.
 *
 * The ring starts small and doubles, up to `capacity`, when an id finds its slot taken: a
 * client with a subscription or two never needs more than a few slots, and a full-size ring
 * made up front (8 KiB) was most of what a new client allocated, the garbage collector's
 * main work when thousands connect at once (bench/, connection-storm). A client with many
 * calls in flight grows it within its first burst and keeps it.
 */
export class PendingTable<T extends { readonly id: number }> {
  private ring: (T | undefined)[]
  private mask: number
  /** The most slots the ring grows to (a power of two). */
  private readonly capacity: number
  private readonly overflow = new Map<number, T>()
  private count = 0

  constructor(capacity = 1024, initial = 8) {
    // Powers of two, so the slot is a mask away.
    this.capacity = powerOfTwo(capacity)
    const size = Math.min(powerOfTwo(initial), this.capacity)
    this.ring = new Array<T | undefined>(size).fill(undefined)
    this.mask = size - 1
  }

  get size(): number {
    return this.count
  }

  get(id: number): T | undefined {
    const slot = this.ring[id & this.mask]
    if (slot !== undefined && slot.id === id) return slot
    return this.overflow.size === 0 ? undefined : this.overflow.get(id)
  }

  set(entry: T): void {
    let index = entry.id & this.mask
    while (this.ring[index] !== undefined && this.ring.length < this.capacity) {
      this.grow()
      index = entry.id & this.mask
    }
    if (this.ring[index] === undefined) this.ring[index] = entry
    else this.overflow.set(entry.id, entry)
    this.count++
  }

  /** Doubles the ring; entries keep distinct slots, and overflowed ones move in where theirs is free. */
  private grow(): void {
    const size = this.ring.length * 2
    const ring = new Array<T | undefined>(size).fill(undefined)
    const mask = size - 1
    for (const entry of this.ring) if (entry !== undefined) ring[entry.id & mask] = entry
    for (const [id, entry] of this.overflow) {
      if (ring[id & mask] !== undefined) continue
      ring[id & mask] = entry
      this.overflow.delete(id)
    }
    this.ring = ring
    this.mask = mask
  }

  /** Removes `entry` if it is the one held under its id. */
  delete(entry: T): void {
    const index = entry.id & this.mask
    if (this.ring[index] === entry) {
      this.ring[index] = undefined
      this.count--
    } else if (this.overflow.get(entry.id) === entry) {
      this.overflow.delete(entry.id)
      this.count--
    }
  }

  /** Every entry, oldest id first. */
  values(): T[] {
    const all: T[] = []
    for (const entry of this.ring) if (entry !== undefined) all.push(entry)
    for (const entry of this.overflow.values()) all.push(entry)
    return all.sort((a, b) => a.id - b.id)
  }
}

/** The least power of two not below `n` (at least 1). */
function powerOfTwo(n: number): number {
  let size = 1
  while (size < n) size *= 2
  return size
}
