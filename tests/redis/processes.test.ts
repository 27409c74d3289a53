/**
 * Patchbay nodes on Redis as real processes (tests/process/fixtures/redis-node.mjs): Redis
 * SIGKILLed under live nodes leaves every node process running and every client socket open,
 * and a node SIGKILLed leaves its clients to resume on another node from Redis's stream
 * (docs/protocol.md §12.1; packages/redis/README.md "Failure behaviour").
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { keysOf } from '@patchbay/redis'
import { connectRaw, type Message, type RawClient } from '../conformance/support.js'
import { cleanUp, spawnFixture, type FixtureProcess } from '../process/support.js'
import { RedisServer } from '../support/redis.js'

let redis: RedisServer
const sockets: RawClient[] = []

beforeEach(async () => {
  redis = await RedisServer.start()
})

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.ws.terminate()
  await cleanUp()
  await redis.stop()
})

async function startNode(name: string): Promise<{ node: FixtureProcess; url: string }> {
  const node = spawnFixture('redis-node', { REDIS_URL: redis.url, PREFIX: 'proc:', NAME: name })
  return { node, url: `ws://127.0.0.1:${await node.port()}` }
}

async function open(url: string): Promise<RawClient> {
  const socket = await connectRaw(url, 'json')
  sockets.push(socket)
  return socket
}

/** The answer to the call or sub `id`, skipping events and lag notices. */
async function answer(socket: RawClient, id: number): Promise<Message> {
  for (;;) {
    const frame = await socket.next()
    if (frame.t !== 'event' && frame.t !== 'lag') {
      expect(frame.id).toBe(id)
      return frame
    }
  }
}

const news = (socket: RawClient): string[] => socket.received.filter((frame) => frame.t === 'event').map((frame) => (frame.data as { text: string }).text)

describe('@patchbay/redis nodes as processes', () => {
  it('Redis SIGKILLed: nodes stay up, sockets stay open, publishing fails with an answer; Redis back: nodes resubscribe and deliver', async () => {
    const a = await startNode('a')
    const b = await startNode('b')
    const onA = await open(a.url)
    const onB = await open(b.url)
    for (const socket of [onA, onB]) {
      socket.send({ t: 'sub', id: 1, path: 'news' })
      expect(await answer(socket, 1)).toMatchObject({ t: 'result' })
    }
    onB.send({ t: 'call', id: 2, path: 'announce', input: { text: 'before' } })
    // docs/protocol.md §13: `delivered` counts the connections of the node that published
    // (onB), while onA, on the other node, gets the event too (below).
    expect(await answer(onB, 2)).toMatchObject({ t: 'result', output: { delivered: 1 } })
    for (const socket of [onA, onB]) await expect.poll(() => news(socket)).toEqual(['before'])

    await redis.stop('SIGKILL')
    await a.node.waitFor((event) => event.event === 'redis-error', 'a redis error')
    await b.node.waitFor((event) => event.event === 'redis-error', 'a redis error')
    // UNAVAILABLE: retryable, the socket lives (docs/protocol.md §6).
    onA.send({ t: 'call', id: 3, path: 'announce', input: { text: 'while down' } })
    expect(await answer(onA, 3)).toMatchObject({ t: 'error', error: { code: 'UNAVAILABLE' } })
    expect([a.node.exit, b.node.exit]).toEqual([undefined, undefined])
    expect([onA.isOpen, onB.isOpen]).toEqual([true, true])

    await redis.restart()
    const pubsub = keysOf('proc:', 'news').pubsub
    await expect.poll(() => redis.numsub(pubsub), { timeout: 5000 }).toEqual([2])
    // Redis came back empty: each subscriber is told once that its channel goes on in a new
    // epoch, a gap of unknown size (docs/protocol.md §12.1, §14).
    const notices = (socket: RawClient): Message[] => socket.received.filter((frame) => frame.t === 'lag')
    for (const socket of [onA, onB]) {
      await expect.poll(() => notices(socket).length, { timeout: 5000 }).toBe(1)
      expect(notices(socket)[0]).toMatchObject({ t: 'lag', seq: 0, epoch: expect.any(String) })
      expect(notices(socket)[0]).not.toHaveProperty('missed')
    }
    onA.send({ t: 'call', id: 4, path: 'announce', input: { text: 'after' } })
    expect(await answer(onA, 4)).toMatchObject({ t: 'result' })
    for (const socket of [onA, onB]) await expect.poll(() => news(socket)).toEqual(['before', 'after'])
    for (const socket of [onA, onB]) expect(notices(socket)).toHaveLength(1)
    expect([a.node.exit, b.node.exit]).toEqual([undefined, undefined])
  })

  it('a node SIGKILLed: its client resumes on another node without loss', async () => {
    const a = await startNode('a')
    const b = await startNode('b')
    const publisher = await open(b.url)
    const announce = async (n: number): Promise<void> => {
      publisher.send({ t: 'call', id: 10 + n, path: 'announce', input: { text: `n${n}` } })
      expect(await answer(publisher, 10 + n)).toMatchObject({ t: 'result' })
    }
    for (let n = 1; n <= 3; n++) await announce(n)
    const onA = await open(a.url)
    onA.send({ t: 'sub', id: 2, path: 'news' })
    const subscribed = (await answer(onA, 2)).output as { epoch: string; seq: number }
    expect(subscribed.seq).toBe(3)
    for (let n = 4; n <= 5; n++) await announce(n)
    await expect.poll(() => news(onA)).toEqual(['n4', 'n5'])

    await a.node.killHard()
    await onA.closed
    // Published while the client has no node.
    for (let n = 6; n <= 8; n++) await announce(n)
    const back = await open(b.url)
    back.send({ t: 'sub', id: 2, path: 'news', resume: { epoch: subscribed.epoch, seq: 5 } })
    expect(await answer(back, 2)).toMatchObject({ t: 'result', output: { seq: 5, epoch: subscribed.epoch } })
    await expect.poll(() => news(back)).toEqual(['n6', 'n7', 'n8'])
    expect(back.received.filter((frame) => frame.t === 'event').map((frame) => frame.seq)).toEqual([6, 7, 8])
    expect(b.node.exit).toBeUndefined()
  })
})
