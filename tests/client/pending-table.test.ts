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

  it('grows its ring from a few slots, keeping every entry (those overflowed before included)', () => {
    const table = new PendingTable<{ id: number }>(64, 2)
    // 1 and 3 share a slot of the 2-slot ring; 1..40 in flight at once grow it to 64.
    const entries = Array.from({ length: 40 }, (_, i) => entry(i + 1))
    for (const e of entries) {
      table.set(e)
      for (const held of entries.slice(0, e.id)) expect(table.get(held.id)).toBe(held)
    }
    expect(table.size).toBe(40)
    expect(table.values().map((e) => e.id)).toEqual(entries.map((e) => e.id))
    for (const e of entries) table.delete(e)
    expect(table.size).toBe(0)
    expect(table.values()).toEqual([])
  })

  it('costs a new client little memory: no full-size ring until many requests are in flight', () => {
    // A client holds one table; thousands of clients connect at once in a reconnect wave
    // (bench/, connection-storm), where a 1,024-slot ring each (8 KiB) was most of their garbage.
    const tables: PendingTable<{ id: number }>[] = []
    const before = process.memoryUsage().heapUsed
    for (let i = 0; i < 2_000; i++) tables.push(new PendingTable<{ id: number }>())
    const grown = process.memoryUsage().heapUsed - before
    expect(tables).toHaveLength(2_000)
    // 2,000 full rings are 16 MiB; small ones well under 2 MiB.
    expect(grown).toBeLessThan(2 * 1024 * 1024)
  })
})
