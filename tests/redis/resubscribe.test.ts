/**
 * A re-subscribe that fails while the subscriber connection stays up (packages/redis/README.md
 * "Failure behaviour"; issue 13: link loss is repaired or reported, never silent): after
 * `CLIENT KILL TYPE pubsub` the proxy (./proxy.ts) holds node A's re-SUBSCRIBE longer than
 * `commandTimeoutMs`, as a loaded Redis would answer it, while node B publishes. The SUBSCRIBE
 * times out with no close and no new 'ready': A must restart the link, subscribe again and
 * repair the gap from the streams (docs/protocol.md §12.1), with nothing published after the
 * outage to reveal it and the position check off (`positionCheckMs: 0`), so nothing else can.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { channelOf, router, topic } from '@patchbay/core'
import { createServer as createPatchbay, type AsyncEngine, type PatchbayServer } from '@patchbay/server'
import { createRedisEngine, keysOf } from '@patchbay/redis'
import { connectRaw, type Message, type RawClient } from '../conformance/support.js'
import { RedisServer } from '../support/redis.js'
import { FaultProxy } from './proxy.js'

const api = router({
  room: topic({ params: z.object({ room: z.string() }), message: z.object({ n: z.number() }) }),
})

type Node = PatchbayServer<AsyncEngine>

/** The engine's documented default, set explicitly: the bound below is counted from it. */
const commandTimeoutMs = 1000

let redis: RedisServer
let proxy: FaultProxy
const nodes: Node[] = []
const sockets: RawClient[] = []
const errors: Error[] = []

beforeEach(async () => {
  redis = await RedisServer.start()
  proxy = await FaultProxy.start(redis.port)
})

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.ws.terminate()
  await Promise.all(nodes.splice(0).map((node) => node.close()))
  errors.splice(0)
  await proxy.close()
  await redis.stop()
})

/** A node whose engine reaches Redis through the proxy (`proxied`) or directly; no position check. */
async function startNode(proxied: boolean): Promise<{ node: Node; url: string }> {
  const engine = createRedisEngine({
    redis: { host: '127.0.0.1', port: proxied ? proxy.port : redis.port },
    prefix: 'app:',
    commandTimeoutMs,
    onError: (error) => errors.push(error),
  })
  const node = createPatchbay(api, { handlers: {}, engine, topics: { room: { history: 100 } }, positionCheckMs: 0 })
  const { port } = await node.listen({ port: 0, host: '127.0.0.1' })
  nodes.push(node)
  await expect.poll(() => node.topicStats.engine).toBe('up')
  return { node, url: `ws://127.0.0.1:${port}` }
}

interface Subscriber {
  readonly socket: RawClient
  readonly ch: number
  readonly room: string
}

async function subscribe(url: string, room: string): Promise<Subscriber> {
  const socket = await connectRaw(url, 'json')
  sockets.push(socket)
  socket.send({ t: 'sub', id: 1, path: 'room', params: { room } })
  const answer = await socket.next()
  expect(answer).toMatchObject({ t: 'result', id: 1 })
  return { socket, ch: (answer.output as { ch: number }).ch, room }
}

const events = (frames: readonly Message[], ch: number): Message[] => frames.filter((frame) => frame.t === 'event' && frame.ch === ch)
const received = ({ socket, ch }: Subscriber): [unknown, number][] => events(socket.received, ch).map((event) => [event.seq, (event.data as { n: number }).n])
const upTo = (last: number): [number, number][] => Array.from({ length: last }, (_, i) => [i + 1, i + 1])

/** The chunk that starts an (S)SUBSCRIBE of an app channel (`app:{tag}`; the probe channel is `app:probe{…}`). */
const subscribesAppChannel = (text: string): boolean => /^\*\d+\r\n\$\d+\r\ns?subscribe\r\n/i.test(text) && text.includes('app:{')

const failedSubscribe = (error: Error): boolean => /subscribe on the subscriber connection failed while it stayed up/.test(error.message)

describe('@patchbay/redis: a re-subscribe that fails while the connection stays up', () => {
  it('a re-SUBSCRIBE answered later than commandTimeoutMs restarts the link: every subscriber gets every event, in order, once, within commandTimeoutMs + 1 s', async () => {
    const a = await startNode(true)
    const b = await startNode(false)
    const rooms = ['x', 'y']
    // On A (through the proxy) two subscribers per room, on B one.
    const subscribers: Subscriber[] = []
    for (const room of rooms) subscribers.push(await subscribe(a.url, room), await subscribe(a.url, room), await subscribe(b.url, room))
    for (let n = 1; n <= 3; n++) for (const room of rooms) await b.node.publish(api.room, { room }, { n })
    for (const subscriber of subscribers) await expect.poll(() => received(subscriber)).toEqual(upTo(3))

    // Held well past the timeout, then forwarded (if the connection still lives): late, not lost.
    const holdMs = commandTimeoutMs + 1500
    const hold = proxy.holdNext(subscribesAppChannel, holdMs)
    // A's subscriber connection (through the proxy) and B's.
    expect(await redis.command('CLIENT KILL TYPE pubsub')).toBe(':2\r\n')
    // A reconnected and sent its re-SUBSCRIBE, which Redis does not see yet: A is not subscribed.
    await hold
    const held = performance.now()
    for (let n = 4; n <= 8; n++) for (const room of rooms) await b.node.publish(api.room, { room }, { n })
    // Nothing is published after the outage: only A's own repair can bring 4..8.

    // The held SUBSCRIBE times out commandTimeoutMs after it was sent, the link is restarted at
    // once (its first failure), reconnects (50 ms), subscribes and the feeds read the streams.
    // Margin: 1 s for a loaded 2-core machine.
    const bound = commandTimeoutMs + 1000
    for (const subscriber of subscribers) {
      await expect.poll(() => received(subscriber).length, { timeout: bound + 2000, interval: 10 }).toBe(8)
    }
    const repairedAfter = performance.now() - held
    expect(repairedAfter).toBeLessThan(bound)
    // Not before the timeout could have fired: nothing else repaired it.
    expect(repairedAfter).toBeGreaterThan(commandTimeoutMs / 2)
    for (const subscriber of subscribers) expect(received(subscriber)).toEqual(upTo(8))
    for (const node of [a.node, b.node]) expect(node.topicStats).toMatchObject({ lost: 0, resets: 0 })
    // Reported once (onError), and A subscribed through a third connection: the restart.
    expect(errors.filter(failedSubscribe)).toHaveLength(1)
    expect(proxy.pairs.filter((pair) => pair.subscriber)).toHaveLength(3)
    const pubsub = rooms.map((room) => keysOf('app:', channelOf('room', { room })).pubsub)
    await expect.poll(() => redis.numsub(...pubsub)).toEqual([2, 2])

    // Live again, and nothing came twice.
    for (const room of rooms) await b.node.publish(api.room, { room }, { n: 9 })
    for (const subscriber of subscribers) await expect.poll(() => received(subscriber)).toEqual(upTo(9))
    console.info(`re-subscribe timed out and repaired ${Math.round(repairedAfter)} ms after the hold began (bound ${bound} ms)`)
  })

  it('a second failure in a row backs off: the link is restarted commandTimeoutMs later, not at once, and still repaired', async () => {
    const a = await startNode(true)
    const b = await startNode(false)
    const subscriber = await subscribe(a.url, 'z')
    await b.node.publish(api.room, { room: 'z' }, { n: 1 })
    await expect.poll(() => received(subscriber)).toEqual(upTo(1))

    const holdMs = commandTimeoutMs + 1500
    const first = proxy.holdNext(subscribesAppChannel, holdMs)
    expect(await redis.command('CLIENT KILL TYPE pubsub')).toBe(':2\r\n')
    await first
    const heldFirst = performance.now()
    // Redis stays slow for the next connection too (armed now: it comes a timeout later).
    let heldSecond = 0
    void proxy.holdNext(subscribesAppChannel, holdMs).then(() => {
      heldSecond = performance.now()
    })
    for (let n = 2; n <= 4; n++) await b.node.publish(api.room, { room: 'z' }, { n })
    // Polled, not awaited: without a restart no new connection ever comes.
    await expect.poll(() => heldSecond, { timeout: commandTimeoutMs + 2000, interval: 10 }).toBeGreaterThan(0)
    // First failure: restarted at once (a timeout, a 50 ms reconnect, margin 1 s).
    expect(heldSecond - heldFirst).toBeLessThan(commandTimeoutMs + 1000)
    await expect.poll(() => received(subscriber).length, { timeout: 3 * commandTimeoutMs + 2000, interval: 10 }).toBe(4)
    const repairedAfter = performance.now() - heldSecond
    // Second in a row: a timeout, then (2^1 − 1) × commandTimeoutMs of backoff before the restart
    // (without it: about one timeout). Margin: 1 s for a loaded machine.
    expect(repairedAfter).toBeGreaterThan(1.5 * commandTimeoutMs)
    expect(repairedAfter).toBeLessThan(2 * commandTimeoutMs + 1000)
    expect(received(subscriber)).toEqual(upTo(4))
    expect(a.node.topicStats).toMatchObject({ lost: 0, resets: 0 })
    const reports = errors.filter(failedSubscribe).map((error) => error.message)
    expect(reports).toHaveLength(2)
    expect(reports[0]).toMatch(/restarting it$/)
    expect(reports[1]).toMatch(new RegExp(`restarting it in ${commandTimeoutMs} ms$`))
    expect(proxy.pairs.filter((pair) => pair.subscriber)).toHaveLength(4)
    console.info(`second failure: restarted and repaired ${Math.round(repairedAfter)} ms after its hold began (${Math.round(heldSecond - heldFirst)} ms between the holds)`)
  })
})
