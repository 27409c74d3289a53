/**
 * Requests waiting for an answer, by id. Ids count up (§4.1), so the ones in flight sit in a
 * narrow window: a fixed ring indexed by `id & mask` finds them without hashing and, unlike a
 * Map under constant insert and delete, never rebuilds its table, which had made each call's
 * bookkeeping survive into the old generation. A request whose slot is still held by an older
 * one (a long stream, a slow call) goes to a small overflow Map instead.
 */
export class PendingTable<T extends { readonly id: number }> {
  private readonly ring: (T | undefined)[]
  private readonly mask: number
  private readonly overflow = new Map<number, T>()
  private count = 0

  constructor(capacity = 1024) {
    // A power of two, so the slot is a mask away.
    let size = 1
    while (size < capacity) size *= 2
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
    const index = entry.id & this.mask
    const slot = this.ring[index]
    if (slot === undefined) this.ring[index] = entry
    else this.overflow.set(entry.id, entry)
    this.count++
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
