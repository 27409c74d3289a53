/**
 * Patchbay's side of the engine seam (packages/server/src/feed.ts, pubsub.ts) against an
 * engine that drops, duplicates, delays and reorders (./fake-engine.ts): whatever the engine
 * does, every subscriber sees seqs in order and each at most once, a subscribe racing
 * publishes neither loses nor doubles an event, and every gap is reported — as a jump in seq
 * of exactly the events lost (which the client reports as a lag, docs/protocol.md §14), or, when
 * the store lost the channel, as a new epoch (an unknown gap). docs/protocol.md §12, §12.1.
 */
import { describe, expect, it } from 'vitest'
import { jsonCodec, type Codec } from '@patchbay/core'
import { msgpackServerCodec as msgpackCodec } from '@patchbay/core/msgpack'
import { PubSub, type Subscribed, type Subscriber } from '@patchbay/server'
import { FakeEngine, NO_FAULTS, type Faults } from './fake-engine.js'
import { fromWire } from '../support/wire.js'

const CHANNEL = 'room:{"id":1}'

function route(history: number) {
  return {
    retention: { history, retainMs: 60_000 },
    delivery: { topic: 'room', policy: 'queue' as const, highWaterMark: 1_000_000 },
  }
}

interface Recorder extends Subscriber {
  /** The answer to its subscribe (undefined until answered). */
  start: Subscribed | undefined
  error: string | undefined
  /** Every seq it saw, replay first, in arrival order. */
  seqs: number[]
  /** The reset notices it was sent, decoded from their §3 arrays (a `lag` naming a new epoch, §14). */
  resets: unknown[]
  /** For each notice, how many seqs it had seen when the notice came. */
  resetAt: number[]
  /** The counted lags it was sent for events the engine lost: [through seq, missed]. */
  losses: [number, number][]
}

function recorder(codec: Codec = jsonCodec): Recorder {
  const self: Recorder = {
    codec,
    start: undefined,
    error: undefined,
    seqs: [],
    resets: [],
    resetAt: [],
    losses: [],
    deliver: (_frame, _ch, seq) => {
      self.seqs.push(seq)
    },
    reset: (frame) => {
      self.resets.push(fromWire(codec.decode(frame)))
      self.resetAt.push(self.seqs.length)
    },
    lost: (_ch, seq, missed) => {
      self.losses.push([seq, missed])
    },
  }
  return self
}

function join(pubsub: PubSub, subscriber: Recorder, history: number, resume?: { epoch: string; seq: number }): void {
  pubsub.subscribe(CHANNEL, subscriber, route(history), resume, (answer) => {
    if (!answer.ok) {
      subscriber.error = answer.error.message
      return false
    }
    subscriber.start = answer.subscribed
    subscriber.seqs.push(...answer.subscribed.replay.map((publication) => publication.seq))
    return true
  })
}

/** Checks the promise of §12: increasing seqs, each once, starting after the answered seq; returns the gaps. */
function gapsOf(subscriber: Recorder): number {
  expect(subscriber.start).toBeDefined()
  let previous = subscriber.start?.seq ?? 0
  let gaps = 0
  for (const seq of subscriber.seqs) {
    expect(seq).toBeGreaterThan(previous)
    gaps += seq - previous - 1
    previous = seq
  }
  return gaps
}

/** The last seq a subscriber knows of: its last event, else where it started. */
function lastOf(subscriber: Recorder): number | undefined {
  return subscriber.seqs.at(-1) ?? subscriber.start?.seq
}

async function run(seed: number, faults: Faults, history: number, publishes: number) {
  const engine = new FakeEngine(faults, seed)
  const pubsub = new PubSub(engine)
  const early = [recorder(), recorder(msgpackCodec)]
  for (const subscriber of early) join(pubsub, subscriber, history)
  await engine.settled()
  const late: Recorder[] = []
  for (let n = 1; n <= publishes; n++) {
    void pubsub.publish(CHANNEL, { n }, route(history))
    // Subscribers arrive while publications are in flight: one from the latest, one resuming.
    if (n === Math.floor(publishes / 3)) {
      const fresh = recorder()
      join(pubsub, fresh, history)
      late.push(fresh)
    }
    if (n === Math.floor(publishes / 2)) {
      const top = engine.top(CHANNEL)
      const resuming = recorder()
      join(pubsub, resuming, history, { epoch: top?.epoch ?? '', seq: n - 20 })
      late.push(resuming)
    }
    if (n % 25 === 0) await Promise.resolve()
  }
  await engine.settled()
  // A trailing loss is only noticed when something follows it: the link coming back does.
  engine.setFaults(NO_FAULTS)
  engine.resync()
  await engine.settled()
  return { engine, pubsub, early, late, top: engine.top(CHANNEL) }
}

describe('engine seam: the feed against a faulty engine', () => {
  it('with enough history, repairs every drop: each subscriber gets every seq once, in order', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const { pubsub, early, late, top } = await run(seed, { drop: 0.1, duplicate: 0.1, maxDelayMs: 3 }, 1_000, 300)
      for (const subscriber of [...early, ...late]) {
        expect(gapsOf(subscriber), `seed ${seed}`).toBe(0)
        expect(lastOf(subscriber), `seed ${seed}`).toBe(top?.seq)
      }
      // The resuming subscriber got its missed events as a replay, merged with live ones.
      const resuming = late[1] as Recorder
      expect(resuming.start?.seq, `seed ${seed}`).toBe(130)
      expect(resuming.seqs[0]).toBe(131)
      expect(pubsub.stats).toMatchObject({ lost: 0, resets: 0, subscriptions: 4, resumed: 1 })
    }
  })

  it('with short history, reports every event it could not repair as a gap of exactly that size', async () => {
    let lostSomewhere = 0
    for (let seed = 1; seed <= 12; seed++) {
      const { pubsub, early, top } = await run(seed, { drop: 0.3, duplicate: 0.1, maxDelayMs: 4 }, 2, 300)
      const lost = pubsub.stats.lost
      lostSomewhere += lost
      for (const subscriber of early) {
        // Delivered + reported = everything published: nothing vanished silently.
        expect(gapsOf(subscriber), `seed ${seed}`).toBe(lost)
        expect(subscriber.seqs.length + lost, `seed ${seed}`).toBe(top?.seq)
      }
    }
    // The faults were strong enough to beat a history of 2 at least once.
    expect(lostSomewhere).toBeGreaterThan(0)
  })

  it('a subscribe racing publishes neither loses nor doubles an event (no faults but delays)', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const { early, late, top } = await run(seed, { drop: 0, duplicate: 0, maxDelayMs: 2 }, 1_000, 200)
      for (const subscriber of [...early, ...late]) {
        expect(gapsOf(subscriber)).toBe(0)
        expect(lastOf(subscriber)).toBe(top?.seq)
      }
    }
  })

  it('tells of a new epoch when the store lost the channel, once per subscriber in each codec, then goes on in it', async () => {
    const engine = new FakeEngine({ drop: 0, duplicate: 0, maxDelayMs: 1 }, 7)
    const pubsub = new PubSub(engine)
    const subscriber = recorder()
    const other = recorder(msgpackCodec)
    join(pubsub, subscriber, 100)
    join(pubsub, other, 100)
    await engine.settled()
    for (let n = 1; n <= 10; n++) void pubsub.publish(CHANNEL, { n }, route(100))
    await engine.settled()
    expect(subscriber.seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    engine.restart()
    await engine.settled()
    expect(pubsub.stats.resets).toBe(1)
    // docs/protocol.md §14: a lag with the new epoch and its latest seq, no count.
    const epoch = engine.top(CHANNEL)?.epoch
    for (const each of [subscriber, other]) expect(each.resets).toEqual([{ t: 'lag', ch: subscriber.start?.ch, seq: 0, epoch }])
    for (let n = 1; n <= 3; n++) void pubsub.publish(CHANNEL, { n }, route(100))
    await engine.settled()
    expect(other.seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3])
    // A newcomer learns the new epoch; resuming the old one finds it gone (from the latest).
    const newcomer = recorder()
    join(pubsub, newcomer, 100, { epoch: subscriber.start?.epoch ?? '', seq: 10 })
    await engine.settled()
    expect(newcomer.start?.epoch).not.toBe(subscriber.start?.epoch)
    expect(newcomer.start?.seq).toBe(3)
    expect(newcomer.start?.replay).toEqual([])
  })

  it('refuses a resume beyond the latest seq, and lets the channel go when nobody is left', async () => {
    const engine = new FakeEngine({ drop: 0, duplicate: 0, maxDelayMs: 2 }, 3)
    const pubsub = new PubSub(engine)
    const first = recorder()
    join(pubsub, first, 10)
    await engine.settled()
    await pubsub.publish(CHANNEL, { n: 1 }, route(10))
    await engine.settled()
    const confused = recorder()
    join(pubsub, confused, 10, { epoch: first.start?.epoch ?? '', seq: 5 })
    await engine.settled()
    expect(confused.error).toMatch(/beyond/)
    pubsub.unsubscribe(CHANNEL, first)
    await engine.settled()
    expect(engine.subscribed.size).toBe(0)
    // A subscriber that leaves before its answer (the answer returns false) holds nothing either.
    pubsub.subscribe(CHANNEL, recorder(), route(10), undefined, () => false)
    await engine.settled()
    expect(engine.subscribed.size).toBe(0)
    expect(pubsub.stats.subscriptions).toBe(0)
  })
})

/**
 * A channel whose store forgot it while the link stayed up (a deleted meta key, FLUSHALL,
 * eviction): 3 events of the first epoch delivered to two subscribers, then the engine hands
 * nothing over by itself (the test does, with `hand`, in the order it chooses).
 */
async function forgotten(history: number) {
  const engine = new FakeEngine(NO_FAULTS, 5)
  const pubsub = new PubSub(engine)
  const subscribers = [recorder(), recorder(msgpackCodec)]
  for (const subscriber of subscribers) join(pubsub, subscriber, history)
  await engine.settled()
  for (let n = 1; n <= 3; n++) await pubsub.publish(CHANNEL, { n }, route(history))
  await engine.settled()
  for (const subscriber of subscribers) expect(subscriber.seqs).toEqual([1, 2, 3])
  engine.setFaults({ drop: 1, duplicate: 0, maxDelayMs: 0 })
  engine.forget(CHANNEL)
  /** Publishes `count` events of the new epoch (stored, not delivered): data `{ n: 100 + seq }`. */
  const publish = async (count: number): Promise<void> => {
    for (let i = 0; i < count; i++) await pubsub.publish(CHANNEL, { n: 100 + (engine.top(CHANNEL)?.seq ?? 0) + 1 }, route(history))
  }
  /** Hands the new epoch's events `seqs` to the feed, as the engine's subscription would. */
  const hand = (...seqs: number[]): void => {
    const epoch = engine.top(CHANNEL)?.epoch ?? ''
    for (const seq of seqs) pubsub.publication(CHANNEL, epoch, { seq, data: { n: 100 + seq } })
  }
  return { engine, pubsub, subscribers, publish, hand, ch: () => subscribers[0]?.start?.ch }
}

describe('engine seam: the epoch changes while the link stays up (docs/protocol.md §12.1)', () => {
  const orders: [string, (setup: Awaited<ReturnType<typeof forgotten>>) => Promise<void>][] = [
    [
      'the new epoch’s events arrive before the read of its position returns',
      async ({ engine, publish, hand }) => {
        engine.pauseReads()
        await publish(2)
        hand(1, 2)
        engine.resumeReads()
      },
    ],
    [
      'they arrive reordered, before the read returns',
      async ({ engine, publish, hand }) => {
        engine.pauseReads()
        await publish(2)
        hand(2, 1)
        engine.resumeReads()
      },
    ],
    [
      'they arrive twice, before and after the read returns',
      async ({ engine, publish, hand }) => {
        engine.pauseReads()
        await publish(2)
        hand(1, 1, 2)
        engine.resumeReads()
        await engine.settled()
        hand(2, 1)
      },
    ],
    [
      'the read returns between the first event and the second',
      async ({ engine, publish, hand }) => {
        await publish(1)
        hand(1)
        await engine.settled()
        await publish(1)
        hand(2, 2)
      },
    ],
    [
      'the second event is delivered from history before it arrives, and arrives after',
      async ({ engine, publish, hand }) => {
        engine.pauseReads()
        await publish(1)
        hand(1)
        await publish(1)
        engine.resumeReads()
        await engine.settled()
        hand(2)
      },
    ],
  ]
  for (const [name, interleave] of orders) {
    it(`${name}: one notice at seq 0, then every new-epoch event in order, once`, async () => {
      const setup = await forgotten(100)
      await interleave(setup)
      await setup.engine.settled()
      const epoch = setup.engine.top(CHANNEL)?.epoch
      expect(epoch).not.toBe(setup.subscribers[0]?.start?.epoch)
      for (const subscriber of setup.subscribers) {
        expect(subscriber.resets).toEqual([{ t: 'lag', ch: setup.ch(), seq: 0, epoch }])
        expect(subscriber.resetAt).toEqual([3])
        expect(subscriber.seqs).toEqual([1, 2, 3, 1, 2])
      }
      expect(setup.pubsub.stats).toMatchObject({ resets: 1, lost: 0 })
      // The feed goes on in the new epoch: a newcomer starts there, at its latest seq.
      const newcomer = recorder()
      join(setup.pubsub, newcomer, 100)
      await setup.engine.settled()
      expect(newcomer.start).toMatchObject({ epoch, seq: 2, replay: [] })
    })
  }

  it('with history shorter than the new epoch, the notice names the seq before the first event still held', async () => {
    const setup = await forgotten(2)
    await setup.publish(5)
    // Only the last arrives: history (2) holds 4 and 5; 1..3 are the unknown gap.
    setup.hand(5)
    await setup.engine.settled()
    const epoch = setup.engine.top(CHANNEL)?.epoch
    for (const subscriber of setup.subscribers) {
      expect(subscriber.resets).toEqual([{ t: 'lag', ch: setup.ch(), seq: 3, epoch }])
      expect(subscriber.seqs).toEqual([1, 2, 3, 4, 5])
    }
    expect(setup.pubsub.stats).toMatchObject({ resets: 1, lost: 0 })
  })

  it('an event that arrived below what history holds is delivered too; the hole between is a counted gap', async () => {
    const setup = await forgotten(2)
    await setup.publish(5)
    setup.hand(2, 5)
    await setup.engine.settled()
    const epoch = setup.engine.top(CHANNEL)?.epoch
    for (const subscriber of setup.subscribers) {
      // Unknown before 2 (the notice), 2 delivered, 3 gone for good (a jump in seq: exactly 1), 4 and 5.
      expect(subscriber.resets).toEqual([{ t: 'lag', ch: setup.ch(), seq: 1, epoch }])
      expect(subscriber.seqs).toEqual([1, 2, 3, 2, 4, 5])
    }
    expect(setup.pubsub.stats).toMatchObject({ resets: 1, lost: 1 })
  })

  it('against drops, duplicates and delays, each subscriber gets one notice at seq 0 and then the whole new epoch, once, in order', async () => {
    for (let seed = 1; seed <= 10; seed++) {
      const engine = new FakeEngine({ drop: 0.1, duplicate: 0.1, maxDelayMs: 3 }, seed)
      const pubsub = new PubSub(engine)
      const subscribers = [recorder(), recorder(msgpackCodec)]
      for (const subscriber of subscribers) join(pubsub, subscriber, 1_000)
      await engine.settled()
      for (let n = 1; n <= 120; n++) {
        // Forgotten mid-stream, with events of the first epoch still on their way.
        if (n === 61) engine.forget(CHANNEL)
        void pubsub.publish(CHANNEL, { n }, route(1_000))
        if (n % 10 === 0) await Promise.resolve()
      }
      await engine.settled()
      engine.setFaults(NO_FAULTS)
      engine.resync()
      await engine.settled()
      const epoch = engine.top(CHANNEL)?.epoch
      for (const subscriber of subscribers) {
        expect(subscriber.resets, `seed ${seed}`).toEqual([{ t: 'lag', ch: subscriber.start?.ch, seq: 0, epoch }])
        const at = subscriber.resetAt[0] ?? 0
        const before = subscriber.seqs.slice(0, at)
        for (let i = 1; i < before.length; i++) expect(before[i], `seed ${seed}`).toBeGreaterThan(before[i - 1] as number)
        expect(subscriber.seqs.slice(at), `seed ${seed}`).toEqual(Array.from({ length: 60 }, (_, i) => i + 1))
      }
      expect(pubsub.stats.resets, `seed ${seed}`).toBe(1)
    }
  })
})
