/**
 * Call deadlines in one binary min-heap, served by a single timer. A setTimeout per call
 * would cost a timer object and a closure on the hot path and churn the event loop's timer
 * list; here a call costs two O(log n) heap operations, and entries are removed eagerly when
 * a call settles (each entry knows its index), so the heap holds only live deadlines.
 */

/** An entry the heap can hold. */
export interface Deadline {
  deadline: number
  /** Position in the heap; -1 when not in it. Maintained by the heap. */
  heapIndex: number
}

/** A min-heap of deadlines with one timer that fires `onExpire` for each expired entry. */
export class DeadlineHeap<T extends Deadline> {
  private readonly items: T[] = []
  private timer: ReturnType<typeof setTimeout> | undefined
  private armedFor = Infinity

  constructor(private readonly onExpire: (item: T) => void) {}

  add(item: T): void {
    item.heapIndex = this.items.length
    this.items.push(item)
    this.up(item.heapIndex)
    if (item.deadline < this.armedFor) this.arm()
  }

  remove(item: T): void {
    const index = item.heapIndex
    if (index < 0) return
    item.heapIndex = -1
    const last = this.items.pop() as T
    if (index < this.items.length) {
      this.items[index] = last
      last.heapIndex = index
      this.down(index)
      this.up(last.heapIndex)
    }
    // The timer may now fire early for a removed entry; it then re-arms. Cheaper than
    // re-arming on every removal.
    if (this.items.length === 0) this.disarm()
  }

  private arm(): void {
    const first = this.items[0]
    if (first === undefined) return this.disarm()
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.armedFor = first.deadline
    this.timer = setTimeout(this.fire, Math.max(0, first.deadline - Date.now()))
    // In Node, a pending deadline alone must not keep the process alive.
    ;(this.timer as { unref?: () => void }).unref?.()
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.armedFor = Infinity
  }

  private readonly fire = (): void => {
    this.timer = undefined
    this.armedFor = Infinity
    const now = Date.now()
    let first = this.items[0]
    while (first !== undefined && first.deadline <= now) {
      this.remove(first)
      this.onExpire(first)
      first = this.items[0]
    }
    this.arm()
  }

  private up(index: number): void {
    const items = this.items
    const item = items[index] as T
    while (index > 0) {
      const parentIndex = (index - 1) >> 1
      const parent = items[parentIndex] as T
      if (parent.deadline <= item.deadline) break
      items[index] = parent
      parent.heapIndex = index
      index = parentIndex
    }
    items[index] = item
    item.heapIndex = index
  }

  private down(index: number): void {
    const items = this.items
    const length = items.length
    const item = items[index] as T
    for (;;) {
      const left = 2 * index + 1
      if (left >= length) break
      const right = left + 1
      const child = right < length && (items[right] as T).deadline < (items[left] as T).deadline ? right : left
      const childItem = items[child] as T
      if (childItem.deadline >= item.deadline) break
      items[index] = childItem
      childItem.heapIndex = index
      index = child
    }
    items[index] = item
    item.heapIndex = index
  }
}
