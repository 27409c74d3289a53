/**
 * A `sub` resuming into an epoch this process has not seen (docs/protocol.md §12.1): the store
 * restarted or forgot the channel, another node learnt the new epoch and handed it to the
 * client, while this process still holds the channel in the old epoch. The feed holds the
 * `sub` until its own read of the store is back, moves the channel to the new epoch (its
 * subscribers get the reset notice), and answers the `sub` there: no repeat, nothing lost.
 * A resume naming an older epoch is answered from the latest, as before. Fake engine
 * (./fake-engine.ts), position check off so that only the `sub` tells the feed.
 */
import { describe, expect, it } from 'vitest'
import { msgpackServerCodec as msgpackCodec } from '@patchbay/core/msgpack'
import { PubSub } from '@patchbay/server'
import { FakeEngine, NO_FAULTS } from './fake-engine.js'
import { join, recorder, route, type Recorder } from './feed-recorder.js'

const CHANNEL = 'room:{"id":1}'
const DROP_ALL = { drop: 1, duplicate: 0, maxDelayMs: 0 }

/**
 * Two subscribers got seqs 1..3 of the first epoch; then the store forgot the channel and
 * two events of its new epoch were published elsewhere, none of which reached this process.
 */
async function behind(faults = NO_FAULTS) {
  const engine = new FakeEngine(faults, 4)
  const pubsub = new PubSub(engine, { rememberChannels: 100, positionCheckMs: 0 })
  const subscribers = [recorder(), recorder(msgpackCodec)]
  for (const subscriber of subscribers) join(pubsub, CHANNEL, subscriber, 100)
  await engine.settled()
  for (let n = 1; n <= 3; n++) await pubsub.publish(CHANNEL, { n }, route(100))
  await engine.settled()
  const old = engine.top(CHANNEL)?.epoch as string
  engine.setFaults(DROP_ALL)
  engine.forget(CHANNEL)
  for (let n = 101; n <= 102; n++) await pubsub.publish(CHANNEL, { n }, route(100))
  const epoch = engine.top(CHANNEL)?.epoch as string
  engine.setFaults(faults)
  return { engine, pubsub, subscribers, old, epoch }
}

function notice(subscriber: Recorder, epoch: string, seq = 0) {
  return { reset: { t: 'lag', ch: subscriber.start?.ch, seq, epoch } }
}

describe('a sub resuming into an epoch this process has not seen (docs/protocol.md §12.1)', () => {
  it('is answered in that epoch with its replay, after the channel moved there: no repeat, nothing lost', async () => {
    const { engine, pubsub, subscribers, epoch } = await behind()
    const newcomer = recorder()
    // The client saw seq 1 of the new epoch on another node.
    join(pubsub, CHANNEL, newcomer, 100, { epoch, seq: 1 })
    await engine.settled()
    expect(newcomer.start).toMatchObject({ epoch, seq: 1 })
    expect(newcomer.log).toEqual([2])
    // The held channel's subscribers were told once, and got the new epoch from its start.
    for (const subscriber of subscribers) expect(subscriber.log).toEqual([1, 2, 3, notice(subscriber, epoch), 1, 2])
    await pubsub.publish(CHANNEL, { n: 103 }, route(100))
    await engine.settled()
    expect(newcomer.log).toEqual([2, 3])
    for (const subscriber of subscribers) expect(subscriber.log.slice(-1)).toEqual([3])
    expect(pubsub.stats).toMatchObject({ resets: 1, lost: 0, resumed: 1 })
  })

  it('with the store read racing a repair already under way and the new epoch’s events arriving, still once each', async () => {
    const { engine, pubsub, subscribers, epoch } = await behind()
    engine.pauseReads()
    // The feed hears of the new epoch's seq 2 (a repair read goes out, held), then the sub comes.
    pubsub.publication(CHANNEL, epoch, { seq: 2, data: { n: 102 } })
    const newcomer = recorder()
    join(pubsub, CHANNEL, newcomer, 100, { epoch, seq: 2 })
    pubsub.publication(CHANNEL, epoch, { seq: 1, data: { n: 101 } })
    engine.resumeReads()
    await engine.settled()
    expect(newcomer.start).toMatchObject({ epoch, seq: 2, replay: [] })
    await pubsub.publish(CHANNEL, { n: 103 }, route(100))
    await engine.settled()
    expect(newcomer.log).toEqual([3])
    for (const subscriber of subscribers) expect(subscriber.log).toEqual([1, 2, 3, notice(subscriber, epoch), 1, 2, 3])
  })

  it('is told the engine is unavailable, not answered in the old epoch, when the store cannot be read', async () => {
    const { engine, pubsub, epoch } = await behind()
    engine.setDown(true)
    const newcomer = recorder()
    join(pubsub, CHANNEL, newcomer, 100, { epoch, seq: 1 })
    await engine.settled()
    expect(newcomer.start).toBeUndefined()
    expect(newcomer.error).toBe('The topic engine is unavailable')
    engine.setDown(false)
    join(pubsub, CHANNEL, newcomer, 100, { epoch, seq: 1 })
    await engine.settled()
    expect(newcomer.start).toMatchObject({ epoch, seq: 1 })
    expect(newcomer.log).toEqual([2])
  })

  it('refuses a seq beyond the new epoch’s latest (§12.1)', async () => {
    const { engine, pubsub, epoch } = await behind()
    const confused = recorder()
    join(pubsub, CHANNEL, confused, 100, { epoch, seq: 3 })
    await engine.settled()
    expect(confused.error).toMatch(/beyond/)
  })

  it('a stale epoch (one the channel left, or one it never had) is answered from the latest, without replay, as before', async () => {
    const { engine, pubsub, old, epoch } = await behind()
    // The channel moves to the new epoch (its next publication tells it).
    await pubsub.publish(CHANNEL, { n: 103 }, route(100))
    await engine.settled()
    let reads = 0
    const read = engine.read.bind(engine)
    engine.read = (channel, since) => {
      reads++
      return read(channel, since)
    }
    // The epoch it left: answered from what this process knows, without a read.
    const back = recorder()
    join(pubsub, CHANNEL, back, 100, { epoch: old, seq: 2 })
    await engine.settled()
    expect(back.start).toMatchObject({ epoch, seq: 3, replay: [] })
    expect(reads).toBe(0)
    // One it never had: read, then answered the same way.
    const foreign = recorder()
    join(pubsub, CHANNEL, foreign, 100, { epoch: 'elsewhere.1', seq: 2 })
    await engine.settled()
    expect(foreign.start).toMatchObject({ epoch, seq: 3, replay: [] })
    expect(reads).toBe(1)
    expect(pubsub.stats.resets).toBe(1)
  })
})
