/**
 * The position check (packages/server/src/position-check.ts, docs/protocol.md §12.1) against
 * the fake engine of ./fake-engine.ts: a held channel whose last publication never arrived
 * (nothing after it to reveal the gap) is read once it has heard nothing for
 * `positionCheckMs`, and the publication reaches every subscriber from history, in order,
 * once; without history the loss is confirmed by a second check and reported as a counted
 * `lag` (§14); a new epoch as its notice. Active channels are not read, and the reads of many
 * idle channels are spread over the interval.
 */
import { readFileSync } from 'node:fs'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { msgpackServerCodec as msgpackCodec } from '@patchbay/core/msgpack'
import { DEFAULT_POSITION_CHECK_MS, PubSub } from '@patchbay/server'
import { FakeEngine, NO_FAULTS } from './fake-engine.js'
import { expectInOrder, join, recorder, route, type Recorder } from './feed-recorder.js'

const CHANNEL = 'room:{"id":1}'
const DROP_ALL = { drop: 1, duplicate: 0, maxDelayMs: 0 }

const registries: PubSub[] = []
afterEach(async () => {
  vi.useRealTimers()
  await Promise.all(registries.splice(0).map((pubsub) => pubsub.clear()))
})

/** A registry on a fake engine whose `read` calls are recorded (channel, and the tick they came in). */
function setup(positionCheckMs: number | undefined) {
  const engine = new FakeEngine(NO_FAULTS, 9)
  const reads: string[] = []
  /** Reads made in one synchronous run (one tick of the check reads its channels in one). */
  const batches: number[] = []
  let batch = 0
  const read = engine.read.bind(engine)
  engine.read = (channel, since) => {
    reads.push(channel)
    if (batch++ === 0) queueMicrotask(() => {
      batches.push(batch)
      batch = 0
    })
    return read(channel, since)
  }
  const pubsub = new PubSub(engine, positionCheckMs === undefined ? { rememberChannels: 100 } : { rememberChannels: 100, positionCheckMs })
  registries.push(pubsub)
  return { engine, pubsub, reads, batches }
}

async function subscribed(pubsub: PubSub, engine: FakeEngine, history: number, count = 2): Promise<Recorder[]> {
  const subscribers = Array.from({ length: count }, (_, i) => recorder(i % 2 === 0 ? undefined : msgpackCodec))
  for (const subscriber of subscribers) join(pubsub, CHANNEL, subscriber, history)
  await engine.settled()
  return subscribers
}

describe('the position check (docs/protocol.md §12.1)', () => {
  it('delivers a lost last publication from history within positionCheckMs, in order, once, to every subscriber', async () => {
    const checkMs = 300
    const { engine, pubsub } = setup(checkMs)
    const subscribers = await subscribed(pubsub, engine, 100)
    for (let n = 1; n <= 3; n++) await pubsub.publish(CHANNEL, { n }, route(100))
    await engine.settled()
    // The last two never reach this process; nothing follows them.
    engine.setFaults(DROP_ALL)
    await pubsub.publish(CHANNEL, { n: 4 }, route(100))
    await pubsub.publish(CHANNEL, { n: 5 }, route(100))
    const lostAt = performance.now()
    await Promise.all(subscribers.map((subscriber) => subscriber.until(() => subscriber.seqs.length === 5)))
    const took = performance.now() - lostAt
    // Found by the first check after the loss: within one interval (plus a loaded machine's timer lag).
    expect(took).toBeLessThan(checkMs + 250)
    for (const subscriber of subscribers) {
      expect(subscriber.log).toEqual([1, 2, 3, 4, 5])
      expectInOrder(subscriber)
    }
    expect(pubsub.stats).toMatchObject({ lost: 0, resets: 0 })
    expect(pubsub.stats.positionChecks).toBeGreaterThan(0)
    // The copies still on their way (here: handed late) are duplicates, dropped.
    const epoch = engine.top(CHANNEL)?.epoch ?? ''
    pubsub.publication(CHANNEL, epoch, { seq: 5, data: { n: 5 } })
    engine.setFaults(NO_FAULTS)
    await pubsub.publish(CHANNEL, { n: 6 }, route(100))
    await engine.settled()
    for (const subscriber of subscribers) expect(subscriber.log).toEqual([1, 2, 3, 4, 5, 6])
  })

  it('without history, reports the lost end as a counted lag once a second check finds it still missing', async () => {
    const checkMs = 200
    const { engine, pubsub } = setup(checkMs)
    const subscribers = await subscribed(pubsub, engine, 0)
    await pubsub.publish(CHANNEL, { n: 1 }, route(0))
    await engine.settled()
    engine.setFaults(DROP_ALL)
    for (let n = 2; n <= 4; n++) await pubsub.publish(CHANNEL, { n }, route(0))
    const lostAt = performance.now()
    await Promise.all(subscribers.map((subscriber) => subscriber.until(() => subscriber.log.length === 2)))
    const took = performance.now() - lostAt
    // The first check sees the top ahead; the next, an interval later, confirms the loss.
    expect(took).toBeGreaterThanOrEqual(checkMs - 5)
    expect(took).toBeLessThan(2 * checkMs + 250)
    for (const subscriber of subscribers) expect(subscriber.log).toEqual([1, { lost: [4, 3] }])
    expect(pubsub.stats.lost).toBe(3)
    // The channel goes on from there: the next event is 5, no further notice.
    engine.setFaults(NO_FAULTS)
    await pubsub.publish(CHANNEL, { n: 5 }, route(0))
    await engine.settled()
    for (const subscriber of subscribers) expect(subscriber.log).toEqual([1, { lost: [4, 3] }, 5])
  })

  it('does not report as lost a publication still on its way when the check reads the top', async () => {
    const checkMs = 120
    const { engine, pubsub } = setup(checkMs)
    const subscribers = await subscribed(pubsub, engine, 0)
    engine.setFaults(DROP_ALL)
    await pubsub.publish(CHANNEL, { n: 1 }, route(0))
    // The first check sees seq 1 in the store, not here, and no history to take it from.
    await expect.poll(() => pubsub.stats.positionChecks, { timeout: 2000, interval: 5 }).toBeGreaterThanOrEqual(1)
    await engine.settled()
    // It arrives before the next check: delivered, and nothing is lost.
    pubsub.publication(CHANNEL, engine.top(CHANNEL)?.epoch ?? '', { seq: 1, data: { n: 1 } })
    const checks = pubsub.stats.positionChecks
    await expect.poll(() => pubsub.stats.positionChecks, { timeout: 2000, interval: 5 }).toBeGreaterThanOrEqual(checks + 2)
    await engine.settled()
    for (const subscriber of subscribers) expect(subscriber.log).toEqual([1])
    expect(pubsub.stats.lost).toBe(0)
  })

  it('tells of a new epoch the store started without any publication arriving here', async () => {
    const checkMs = 200
    const { engine, pubsub } = setup(checkMs)
    const subscribers = await subscribed(pubsub, engine, 100)
    for (let n = 1; n <= 2; n++) await pubsub.publish(CHANNEL, { n }, route(100))
    await engine.settled()
    // The store forgets the channel; its new epoch's two events never arrive here.
    engine.setFaults(DROP_ALL)
    engine.forget(CHANNEL)
    for (let n = 3; n <= 4; n++) await pubsub.publish(CHANNEL, { n }, route(100))
    const forgotAt = performance.now()
    await Promise.all(subscribers.map((subscriber) => subscriber.until(() => subscriber.seqs.length === 4)))
    expect(performance.now() - forgotAt).toBeLessThan(checkMs + 250)
    const epoch = engine.top(CHANNEL)?.epoch
    // docs/protocol.md §12.1: one notice at seq 0 (history holds the new epoch from its start), then its events.
    for (const subscriber of subscribers) expect(subscriber.log).toEqual([1, 2, { reset: { t: 'lag', ch: subscriber.start?.ch, seq: 0, epoch } }, 1, 2])
    expect(pubsub.stats).toMatchObject({ resets: 1, lost: 0 })
  })

  it('reads no channel that keeps receiving, and spreads the reads of 800 idle channels over the interval', async () => {
    const checkMs = 400
    const { engine, pubsub, reads, batches } = setup(checkMs)
    const idle = Array.from({ length: 800 }, (_, i) => `idle:${i}`)
    for (const channel of idle) join(pubsub, channel, recorder(), 10)
    const active = recorder()
    join(pubsub, CHANNEL, active, 10)
    await engine.settled()
    const joinReads = reads.length
    batches.splice(0)
    const started = performance.now()
    let n = 0
    // One publish every ~40 ms on the active channel for 2.5 intervals.
    while (performance.now() - started < 2.5 * checkMs) {
      await pubsub.publish(CHANNEL, { n: ++n }, route(10))
      await new Promise((resolve) => setTimeout(resolve, 40))
    }
    await engine.settled()
    const checked = reads.slice(joinReads)
    expect(checked.filter((channel) => channel === CHANNEL)).toEqual([])
    // Every idle channel was read, and no tick read more than an eighth of the 801 held.
    expect(new Set(checked)).toEqual(new Set(idle))
    expect(Math.max(...batches)).toBeLessThanOrEqual(Math.ceil(801 / 8))
    expect(active.seqs).toHaveLength(n)
  })

  it('by default checks a silent channel every DEFAULT_POSITION_CHECK_MS, 40 s, as the docs say', async () => {
    expect(DEFAULT_POSITION_CHECK_MS).toBe(40_000)
    const doc = (path: string): string => readFileSync(new URL(`../../docs/${path}`, import.meta.url), 'utf8').replace(/\s+/g, ' ')
    expect(doc('protocol.md')).toContain('`positionCheckMs` (a server option, default **40 s**')
    expect(doc('guide/scaling-out.md')).toContain('within `positionCheckMs` (default 40 s)')
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    const { engine, pubsub, reads } = setup(undefined)
    await subscribed(pubsub, engine, 10, 1)
    const joinReads = reads.length
    // Ticks every 40 s / 8: the first read comes on the last tick within 40 s of the channel's
    // last news (here its first read), the next ones 40 s apart while it stays silent.
    vi.advanceTimersByTime(34_999)
    expect(reads.length - joinReads).toBe(0)
    vi.advanceTimersByTime(1)
    expect(reads.length - joinReads).toBe(1)
    await engine.settled()
    vi.advanceTimersByTime(39_999)
    expect(reads.length - joinReads).toBe(1)
    vi.advanceTimersByTime(1)
    expect(reads.length - joinReads).toBe(2)
    await engine.settled()
  })
})
