/**
 * docs/protocol.md §12.1: one connection, within its rate limit, subscribing to and leaving
 * thousands of distinct channels (each kept `retainMs` with its history) cannot grow the
 * server's heap past the `retention` bound. Measured in a server process of its own after
 * full GCs, with a margin far below what the same churn pins without the bound.
 */
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { HeapServer } from './heap-server.js'
import { fromWire, toWire } from '../support/wire.js'

let child: HeapServer | undefined
afterEach(async () => {
  await child?.stop()
  child = undefined
})

const CHANNELS = 3_000
const MAX_CHANNELS = 200
/** Each kept channel holds 4 messages of ~1 KB: ~6 KB a channel with its own overhead. */
const TEXT = 'x'.repeat(1_000)

/** Sends `frames` as JSON text (§3's arrays), `batch` at a time, each batch after the previous one's last answer. */
async function churn(url: string): Promise<void> {
  const ws = new WebSocket(url, ['patchbay.v1.json'])
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  let lastAnswered = 0
  let wake: (() => void) | undefined
  ws.on('message', (data: Buffer) => {
    const frame = fromWire(JSON.parse(data.toString('utf8'))) as { t: string; id?: number; error?: { code: string } }
    if (frame.t === 'error') throw new Error(`the churn was refused: ${JSON.stringify(frame)}`)
    if (frame.t === 'result' && typeof frame.id === 'number') lastAnswered = Math.max(lastAnswered, frame.id)
    wake?.()
  })
  let id = 0
  for (let channel = 0; channel < CHANNELS; channel++) {
    const params = { room: `room-${channel}-${'p'.repeat(64)}` }
    const subId = ++id
    ws.send(JSON.stringify(toWire({ t: 'sub', id: subId, path: 'room', params })))
    ws.send(JSON.stringify(toWire({ t: 'unsub', id: subId })))
    for (let n = 0; n < 4; n++) ws.send(JSON.stringify(toWire({ t: 'pub', id: ++id, path: 'room', params, data: { text: TEXT } })))
    if (channel % 100 === 99) {
      const target = id
      while (lastAnswered < target) await new Promise<void>((resolve) => (wake = resolve))
    }
  }
  const target = id
  while (lastAnswered < target) await new Promise<void>((resolve) => (wake = resolve))
  ws.close()
}

describe('§12.1 kept channels under churn', () => {
  it('a churning client cannot grow the heap past the retention bound', async () => {
    child = new HeapServer({ RETENTION: JSON.stringify({ maxChannels: MAX_CHANNELS }) })
    const url = `ws://127.0.0.1:${await child.port}`
    // Warm up code paths (and the codec) before the baseline, so it measures channels only.
    const warm = new WebSocket(url, ['patchbay.v1.json'])
    await new Promise((resolve) => warm.once('open', resolve))
    warm.close()
    const baseline = await child.heap()
    await churn(url)
    const after = await child.heap()
    const grown = after.heapUsed - baseline.heapUsed
    // Without the bound the same churn pins ~18 MB (3,000 channels × ~6 KB); with it, 200
    // channels: ~1.2 MB. 6 MB leaves room for GC noise either way.
    expect(after.topicStats.retained).toBeLessThanOrEqual(MAX_CHANNELS)
    expect(after.topicStats.evictions).toBeGreaterThanOrEqual(CHANNELS - MAX_CHANNELS)
    expect(grown, `heap grew ${(grown / 1e6).toFixed(1)} MB`).toBeLessThan(6_000_000)
    expect(child.faults).toEqual([])
  })
})
