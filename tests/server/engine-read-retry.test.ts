/**
 * History reads of the feed (packages/server/src/feed.ts, feed-reads.ts) against the fake
 * engine (./fake-engine.ts), docs/protocol.md §12.1 "Events lost on their way":
 * - a read that fails (a store slower than the engine's timeout) is made again after a
 *   bounded backoff, for a gap (a seq jump, a resync) and for a resume alike: no `lag` while
 *   history holds the events, every event once and in order, later events waiting behind
 *   the gap; what waits is bounded (history, then MAX_HELD), past which the gap is lost;
 * - subscribers resuming one channel together share one engine read (the one in flight, or
 *   the one that answered a moment ago), and each still gets its exact replay.
 */
import { describe, expect, it } from 'vitest'
import { jsonCodec } from '@patchbay/core'
import { PubSub, type Subscribed, type Subscriber } from '@patchbay/server'
import { FakeEngine, NO_FAULTS } from './fake-engine.js'

const CHANNEL = 'room:{"id":7}'
const DROP_ALL = { drop: 1, duplicate: 0, maxDelayMs: 0 }

function route(history: number) {
  return {
    retention: { history, retainMs: 60_000 },
    delivery: { topic: 'room', policy: 'queue' as const, highWaterMark: 1_000_000 },
  }
}

interface Recorder extends Subscriber {
  start: Subscribed | undefined
  error: string | undefined
  /** Every seq it saw, replay first. */
  seqs: number[]
  /** Counted lags: [through seq, missed]. */
  losses: [number, number][]
  /** Resolves once it has seen `seq` (or was answered with an error). */
  reached(seq: number): Promise<void>
  /** Wakes `reached` after its answer came. */
  answered(): void
}

function recorder(): Recorder {
  const waiting: { seq: number; resolve: () => void }[] = []
  const wake = (): void => {
    for (const waiter of [...waiting]) {
      if (self.error !== undefined || Math.max(self.seqs.at(-1) ?? -1, self.start?.seq ?? -1) >= waiter.seq) {
        waiting.splice(waiting.indexOf(waiter), 1)
        waiter.resolve()
      }
    }
  }
  const self: Recorder = {
    codec: jsonCodec,
    start: undefined,
    error: undefined,
    seqs: [],
    losses: [],
    deliver: (_frame, _ch, seq) => {
      self.seqs.push(seq)
      wake()
    },
    reset: () => {
      throw new Error('no epoch change in these tests')
    },
    lost: (_ch, seq, missed) => {
      self.losses.push([seq, missed])
    },
    answered: wake,
    reached: (seq) =>
      new Promise((resolve) => {
        waiting.push({ seq, resolve })
        wake()
      }),
  }
  return self
}

function join(pubsub: PubSub, subscriber: Recorder, history: number, resume?: { epoch: string; seq: number }): void {
  pubsub.subscribe(CHANNEL, subscriber, route(history), resume, (answer) => {
    if (!answer.ok) {
      subscriber.error = answer.error.message
      subscriber.answered()
      return false
    }
    subscriber.start = answer.subscribed
    subscriber.seqs.push(...answer.subscribed.replay.map((publication) => publication.seq))
    subscriber.answered()
    return true
  })
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

async function setup(history = 100) {
  const engine = new FakeEngine(NO_FAULTS)
  const pubsub = new PubSub(engine, { rememberChannels: 100, positionCheckMs: 0 })
  const holder = recorder()
  join(pubsub, holder, history)
  await engine.settled()
  const publish = async (from: number, to: number): Promise<void> => {
    for (let n = from; n <= to; n++) void pubsub.publish(CHANNEL, { n }, route(history))
    await engine.settled()
  }
  return { engine, pubsub, holder, publish }
}

describe('a history read that fails is made again (docs/protocol.md §12.1)', () => {
  it('a seq jump whose repair reads fail 3 times: later events wait behind the gap, then all come, in order, once, no lag', async () => {
    const { engine, pubsub, holder, publish } = await setup()
    await publish(1, 3)
    engine.setFaults(DROP_ALL)
    await publish(4, 5)
    engine.setFaults(NO_FAULTS)
    engine.failReads(3)
    const before = engine.reads
    await publish(6, 7)
    // The gap is not given up: 6 and 7 wait behind it while the read is tried again.
    expect(holder.seqs).toEqual([1, 2, 3])
    expect(holder.losses).toEqual([])
    await holder.reached(7)
    expect(holder.seqs).toEqual(range(1, 7))
    expect(holder.losses).toEqual([])
    expect(pubsub.stats.lost).toBe(0)
    expect(engine.reads - before).toBe(4) // three that failed, one that answered
    await pubsub.clear()
  })

  it('a resync whose read fails twice still fills the gap at the end of what was published', async () => {
    const { engine, pubsub, holder, publish } = await setup()
    await publish(1, 3)
    engine.setFaults(DROP_ALL)
    await publish(4, 5)
    engine.setFaults(NO_FAULTS)
    engine.failReads(2)
    engine.resync()
    await holder.reached(5)
    expect(holder.seqs).toEqual(range(1, 5))
    expect(holder.losses).toEqual([])
    await pubsub.clear()
  })

  it('a resume whose read fails twice gets its exact replay, not the latest', async () => {
    const { engine, pubsub, publish } = await setup()
    await publish(1, 10)
    engine.failReads(2)
    const resuming = recorder()
    join(pubsub, resuming, 100, { epoch: engine.top(CHANNEL)?.epoch ?? '', seq: 4 })
    await resuming.reached(10)
    expect(resuming.error).toBeUndefined()
    expect(resuming.start?.seq).toBe(4)
    expect(resuming.seqs).toEqual(range(5, 10))
    await pubsub.clear()
  })

  it('a resume whose reads keep failing is answered UNAVAILABLE (the client sends it again), never from the latest', async () => {
    const { engine, pubsub, publish } = await setup()
    await publish(1, 10)
    engine.failReads(Number.POSITIVE_INFINITY)
    const resuming = recorder()
    join(pubsub, resuming, 100, { epoch: engine.top(CHANNEL)?.epoch ?? '', seq: 4 })
    await resuming.reached(0)
    expect(resuming.error).toBe('The topic engine is unavailable')
    expect(resuming.start).toBeUndefined()
    await pubsub.clear()
  })

  it('while reads fail, events wait behind the gap until history can no longer hold it; then it is a counted lag', async () => {
    const { engine, pubsub, holder, publish } = await setup(5)
    await publish(1, 3)
    engine.setFaults(DROP_ALL)
    await publish(4, 4)
    engine.setFaults(NO_FAULTS)
    engine.failReads(Number.POSITIVE_INFINITY)
    // History (5) at top 8 still holds 4..8: seq 4 may come back, 5..8 wait.
    await publish(5, 8)
    expect(holder.seqs).toEqual([1, 2, 3])
    expect(holder.losses).toEqual([])
    // At top 9 it holds 5..9: 4 is gone for good, one lost, and the rest go out.
    await publish(9, 9)
    expect(holder.losses).toEqual([[4, 1]])
    expect(holder.seqs).toEqual([1, 2, 3, 5, 6, 7, 8, 9])
    expect(pubsub.stats.lost).toBe(1)
    await pubsub.clear()
  })
})

describe('subscribers resuming one channel together share one read (docs/protocol.md §12.1)', () => {
  it('ten resumes of a channel this process does not hold yet: one engine read, each its exact replay', async () => {
    const engine = new FakeEngine(NO_FAULTS)
    const pubsub = new PubSub(engine, { rememberChannels: 100, positionCheckMs: 0 })
    // Published elsewhere: in the store's history, nobody here holds the channel.
    for (let n = 1; n <= 20; n++) await engine.publish(CHANNEL, { n }, route(100).retention)
    const epoch = engine.top(CHANNEL)?.epoch ?? ''
    const before = engine.reads
    const resumers = range(1, 10).map(() => recorder())
    for (const [i, resuming] of resumers.entries()) join(pubsub, resuming, 100, { epoch, seq: 2 + i })
    await engine.settled()
    expect(engine.reads - before).toBe(1)
    for (const [i, resuming] of resumers.entries()) {
      expect(resuming.start).toMatchObject({ seq: 2 + i, epoch })
      expect(resuming.seqs).toEqual(range(3 + i, 20))
    }
    await pubsub.clear()
  })

  it('resumes coming one after another, events flowing between them: the first read serves the later ones, each its exact replay', async () => {
    const { engine, pubsub, holder, publish } = await setup()
    await publish(1, 10)
    const epoch = engine.top(CHANNEL)?.epoch ?? ''
    const before = engine.reads
    const resumers: Recorder[] = []
    for (let i = 0; i < 5; i++) {
      const resuming = recorder()
      resumers.push(resuming)
      join(pubsub, resuming, 100, { epoch, seq: 2 + i })
      await engine.settled()
      expect(resuming.start?.seq).toBe(2 + i)
      await publish(11 + i, 11 + i)
    }
    expect(engine.reads - before).toBe(1)
    for (const [i, resuming] of resumers.entries()) expect(resuming.seqs).toEqual(range(3 + i, 15))
    // From before the first read's `since`: a read of its own.
    const earlier = recorder()
    join(pubsub, earlier, 100, { epoch, seq: 1 })
    await engine.settled()
    expect(engine.reads - before).toBe(2)
    expect(earlier.seqs).toEqual(range(2, 15))
    expect(holder.seqs).toEqual(range(1, 15))
    await pubsub.clear()
  })

  it('resumes of a held channel while events flow: one read for those from its seq on, another for an earlier one; exact replays', async () => {
    const { engine, pubsub, holder, publish } = await setup()
    await publish(1, 10)
    const epoch = engine.top(CHANNEL)?.epoch ?? ''
    const before = engine.reads
    engine.pauseReads()
    const resumers = range(1, 10).map(() => recorder())
    join(pubsub, resumers[0] as Recorder, 100, { epoch, seq: 3 })
    // Delivered while the first read is in flight: those joining after it get them from the feed.
    await publish(11, 12)
    for (const [i, resuming] of resumers.slice(1).entries()) join(pubsub, resuming, 100, { epoch, seq: 3 + (i % 7) })
    const earlier = recorder()
    join(pubsub, earlier, 100, { epoch, seq: 1 })
    engine.resumeReads()
    await engine.settled()
    await publish(13, 13)
    expect(engine.reads - before).toBe(2)
    for (const resuming of [...resumers, earlier]) {
      const seq = resuming.start?.seq ?? -1
      expect(resuming.seqs).toEqual(range(seq + 1, 13))
    }
    expect(resumers.map((resuming) => resuming.start?.seq)).toEqual([3, 3, 4, 5, 6, 7, 8, 9, 3, 4])
    expect(earlier.start?.seq).toBe(1)
    expect(holder.seqs).toEqual(range(1, 13))
    await pubsub.clear()
  })
})
