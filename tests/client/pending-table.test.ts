/**
 * The client's table of requests in flight: a ring for the common case, an overflow Map for
 * an id whose slot an older request still holds (a long stream while ids move on).
 */
import { describe, expect, it } from 'vitest'
import { PendingTable } from '../../packages/client/src/pending-table.js'

const entry = (id: number): { id: number } => ({ id })

describe('PendingTable', () => {
  it('finds, counts and removes entries by id, oldest first in values()', () => {
    const table = new PendingTable<{ id: number }>(8)
    const entries = [1, 2, 3, 4].map(entry)
    for (const e of entries) table.set(e)
    expect(table.size).toBe(4)
    expect(table.get(3)).toBe(entries[2])
    expect(table.get(5)).toBeUndefined()
    table.delete(entries[1] as { id: number })
    expect(table.get(2)).toBeUndefined()
    expect(table.values().map((e) => e.id)).toEqual([1, 3, 4])
    expect(table.size).toBe(3)
  })

  it('keeps a long-lived entry while ids wrap around the ring many times', () => {
    const table = new PendingTable<{ id: number }>(8)
    const stream = entry(3)
    table.set(stream)
    // Ids 4..10_000 come and go; 11, 19, … land on the stream's slot and overflow.
    for (let id = 4; id <= 10_000; id++) {
      const call = entry(id)
      table.set(call)
      expect(table.get(id)).toBe(call)
      expect(table.get(3)).toBe(stream)
      table.delete(call)
      expect(table.get(id)).toBeUndefined()
    }
    expect(table.size).toBe(1)
    expect(table.values()).toEqual([stream])
  })

  it('ignores the removal of an entry it does not hold under that id', () => {
    const table = new PendingTable<{ id: number }>(8)
    const held = entry(1)
    table.set(held)
    table.delete(entry(1))
    table.delete(entry(9))
    expect(table.get(1)).toBe(held)
    expect(table.size).toBe(1)
  })

  it('holds more entries than its ring when many are in flight at once', () => {
    const table = new PendingTable<{ id: number }>(4)
    const entries = Array.from({ length: 100 }, (_, i) => entry(i + 1))
    for (const e of entries) table.set(e)
    expect(table.size).toBe(100)
    for (const e of entries) expect(table.get(e.id)).toBe(e)
    expect(table.values().map((e) => e.id)).toEqual(entries.map((e) => e.id))
    for (const e of entries) table.delete(e)
    expect(table.size).toBe(0)
  })
})
