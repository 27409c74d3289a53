/**
 * What the Feed repairs on @patchbay/redis with nothing to reveal the gap (docs/protocol.md
 * §12.1), with real nodes on a real redis-server:
 * - a publication whose pub/sub message never came (stored as the publish script stores it,
 *   never PUBLISHed) reaches every subscriber on every node by the position check, within
 *   `positionCheckMs`, in order, once; without history, as a counted `lag` (§14);
 * - a `sub` resuming into an epoch that one node learnt after Redis restarted empty, on a node
 *   that still holds the channel in the old epoch (its re-SUBSCRIBE held back by a proxy, so
 *   nothing told it yet), is answered in the new epoch: no repeat, nothing lost; a resume into
 *   the old epoch is answered from the latest, as before.
 */
import { createConnection, createServer as createTcpServer, type Server, type Socket } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Packr } from 'msgpackr'
import { z } from 'zod'
import { channelOf, router, topic } from '@patchbay/core'
import { createServer, type AsyncEngine, type PatchbayServer } from '@patchbay/server'
import { createRedisEngine, keysOf } from '@patchbay/redis'
import { connectRaw, type Message, type RawClient } from '../conformance/support.js'
import { RedisServer, redisCall, storeWithoutPublish } from '../support/redis.js'

const api = router({
  room: topic({ params: z.object({ room: z.string() }), message: z.object({ n: z.number() }) }),
  bare: topic({ params: z.object({ room: z.string() }), message: z.object({ n: z.number() }) }),
})
const PREFIX = 'fr:'
const TOPICS = { room: { history: 100 }, bare: { history: 0 } }

type Node = PatchbayServer<AsyncEngine>

let redis: RedisServer
const nodes: Node[] = []
const sockets: RawClient[] = []
const cleanups: (() => Promise<void>)[] = []

beforeEach(async () => {
  redis = await RedisServer.start()
})

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.ws.terminate()
  await Promise.all(nodes.splice(0).map((node) => node.close()))
  for (const cleanup of cleanups.splice(0)) await cleanup()
  await redis.stop()
})

async function startNode(url: string, positionCheckMs?: number): Promise<string> {
  const engine = createRedisEngine({ url, prefix: PREFIX, onError: () => {} })
  const node = createServer(api, { handlers: {}, engine, topics: TOPICS, ...(positionCheckMs === undefined ? {} : { positionCheckMs }) })
  nodes.push(node)
  const { port } = await node.listen({ port: 0, host: '127.0.0.1' })
  await expect.poll(() => node.topicStats.engine).toBe('up')
  return `ws://127.0.0.1:${port}`
}

async function open(url: string, encoding: 'json' | 'msgpack' = 'json'): Promise<RawClient> {
  const socket = await connectRaw(url, encoding)
  sockets.push(socket)
  return socket
}

interface Confirmed {
  ch: number
  seq: number
  epoch: string
}

async function subscribe(socket: RawClient, id: number, path: string, room: string, resume?: { epoch: string; seq: number }): Promise<Confirmed> {
  socket.send({ t: 'sub', id, path, params: { room }, ...(resume === undefined ? {} : { resume }) })
  const answer = await socket.next()
  expect(answer).toMatchObject({ t: 'result', id })
  return answer.output as Confirmed
}

/** What a socket got for channel `ch` after its sub result: events as [seq, n], notices as they are. */
function story(socket: RawClient, ch: number): unknown[] {
  return socket.received
    .filter((frame) => frame.ch === ch && (frame.t === 'event' || frame.t === 'lag'))
    .map((frame) => (frame.t === 'event' ? [frame.seq, (frame.data as { n: number }).n] : frame))
}

const packr = new Packr({ useRecords: false })

async function publishLost(path: 'room' | 'bare', room: string, n: number): Promise<number> {
  const keys = keysOf(PREFIX, channelOf(path, { room }))
  return storeWithoutPublish(redis.port, keys, TOPICS[path].history, packr.pack({ n }))
}

/** Resolves with the time at which `socket` has received a frame matching `match`. */
async function arrival(socket: RawClient, match: (frame: Message) => boolean): Promise<number> {
  for (;;) {
    const frame = await socket.next()
    if (match(frame)) return performance.now()
  }
}

describe('the position check on Redis (docs/protocol.md §12.1)', () => {
  const CHECK_MS = 500
  /** A loaded 2-core machine's timer and event-loop lag, beyond the documented bound. */
  const MARGIN_MS = 500

  it('a publication whose pub/sub message was lost reaches every subscriber on every node within positionCheckMs, in order, once', async () => {
    const urls = [await startNode(redis.url, CHECK_MS), await startNode(redis.url, CHECK_MS)]
    const subscribers = [await open(urls[0] as string), await open(urls[1] as string, 'msgpack')]
    const confirmed = await Promise.all(subscribers.map((socket) => subscribe(socket, 1, 'room', 'lost')))
    for (let n = 1; n <= 3; n++) await (nodes[n % 2] as Node).publish(api.room, { room: 'lost' }, { n })
    for (const socket of subscribers) expect(await socket.take(3)).toMatchObject([{ seq: 1 }, { seq: 2 }, { seq: 3 }])
    expect(await publishLost('room', 'lost', 4)).toBe(4)
    const lostAt = performance.now()
    const arrived = await Promise.all(subscribers.map((socket) => arrival(socket, (frame) => frame.t === 'event' && frame.seq === 4)))
    for (const at of arrived) expect(at - lostAt).toBeLessThan(CHECK_MS + MARGIN_MS)
    await (nodes[0] as Node).publish(api.room, { room: 'lost' }, { n: 5 })
    for (const [i, socket] of subscribers.entries()) {
      expect(await socket.next()).toMatchObject({ t: 'event', seq: 5 })
      expect(story(socket, (confirmed[i] as Confirmed).ch)).toEqual([1, 2, 3, 4, 5].map((n) => [n, n]))
    }
    for (const node of nodes) expect(node.topicStats).toMatchObject({ lost: 0, resets: 0 })
  })

  it('without history, the lost publication is a counted lag on every node, after a second check confirms it', async () => {
    const urls = [await startNode(redis.url, CHECK_MS), await startNode(redis.url, CHECK_MS)]
    const subscribers = [await open(urls[0] as string), await open(urls[1] as string, 'msgpack')]
    const confirmed = await Promise.all(subscribers.map((socket) => subscribe(socket, 1, 'bare', 'lost')))
    await (nodes[1] as Node).publish(api.bare, { room: 'lost' }, { n: 1 })
    for (const socket of subscribers) expect(await socket.next()).toMatchObject({ t: 'event', seq: 1 })
    expect(await publishLost('bare', 'lost', 2)).toBe(2)
    const lostAt = performance.now()
    const arrived = await Promise.all(subscribers.map((socket) => arrival(socket, (frame) => frame.t === 'lag')))
    for (const at of arrived) expect(at - lostAt).toBeLessThan(2 * CHECK_MS + MARGIN_MS)
    await (nodes[0] as Node).publish(api.bare, { room: 'lost' }, { n: 3 })
    for (const [i, socket] of subscribers.entries()) {
      const { ch } = confirmed[i] as Confirmed
      expect(await socket.next()).toMatchObject({ t: 'event', seq: 3 })
      // docs/protocol.md §14: the counted form, through seq 2, one missed.
      expect(story(socket, ch)).toEqual([[1, 1], { t: 'lag', ch, seq: 2, missed: 1 }, [3, 3]])
    }
    for (const node of nodes) expect(node.topicStats).toMatchObject({ lost: 1, resets: 0 })
  })
})

/** The name of a SUBSCRIBE command as RESP bulk string, as ioredis sends it. */
const SUBSCRIBE = /\$9\r\nsubscribe\r\n/i

/**
 * A TCP proxy to Redis that can hold back a connection's SUBSCRIBE (and all it sends after),
 * so a node reconnects and can read, but stays out of the channel's pub/sub until released.
 */
async function startGate(target: number) {
  const held: { upstream: Socket; queue: Buffer[] }[] = []
  let gated = false
  let onHeld: (() => void) | undefined
  const open = new Set<Socket>()
  const server: Server = createTcpServer((downstream) => {
    const upstream = createConnection({ port: target, host: '127.0.0.1' })
    for (const socket of [downstream, upstream]) {
      open.add(socket)
      socket.on('close', () => {
        open.delete(socket)
        downstream.destroy()
        upstream.destroy()
      })
      socket.on('error', () => socket.destroy())
    }
    upstream.on('data', (chunk: Buffer) => downstream.write(chunk))
    let hold: { upstream: Socket; queue: Buffer[] } | undefined
    downstream.on('data', (chunk: Buffer) => {
      if (hold === undefined && gated && SUBSCRIBE.test(chunk.toString('latin1'))) {
        hold = { upstream, queue: [] }
        held.push(hold)
        onHeld?.()
      }
      if (hold !== undefined && gated) hold.queue.push(chunk)
      else upstream.write(chunk)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  cleanups.push(async () => {
    for (const socket of open) socket.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return {
    url: `redis://127.0.0.1:${port}`,
    /** From now on, a connection's SUBSCRIBE waits here; resolves once one does. */
    gate(): Promise<void> {
      gated = true
      return new Promise((resolve) => (onHeld = resolve))
    },
    /** Lets every held SUBSCRIBE (and what followed it) through. */
    release(): void {
      gated = false
      for (const { upstream, queue } of held.splice(0)) for (const chunk of queue.splice(0)) upstream.write(chunk)
    },
  }
}

describe('a resume into an epoch this node has not seen yet (docs/protocol.md §12.1)', () => {
  it('Redis restarted empty; node B learnt the new epoch, node A has not: a sub on A resuming in it is answered there, with no repeat', async () => {
    const gate = await startGate(redis.port)
    const onA = await startNode(gate.url)
    const onB = await startNode(redis.url)
    const x = await open(onA)
    const first = await subscribe(x, 1, 'room', 'e')
    for (let n = 1; n <= 3; n++) await (nodes[0] as Node).publish(api.room, { room: 'e' }, { n })
    expect(await x.take(3)).toMatchObject([{ seq: 1 }, { seq: 2 }, { seq: 3 }])

    // Redis restarts empty. A reconnects and can read, but its re-SUBSCRIBE is held back:
    // nothing tells A that the channel's state is gone.
    const subscribeHeld = gate.gate()
    await redis.restart()
    await subscribeHeld
    await expect.poll(() => nodes.map((node) => node.topicStats.engine), { timeout: 5000 }).toEqual(['up', 'up'])

    // On B, a client subscribes (a new epoch begins) and sees two events of it.
    const y = await open(onB, 'msgpack')
    const second = await subscribe(y, 1, 'room', 'e')
    expect(second.epoch).not.toBe(first.epoch)
    for (let n = 101; n <= 102; n++) await (nodes[1] as Node).publish(api.room, { room: 'e' }, { n })
    expect(await y.take(2)).toMatchObject([{ seq: 1 }, { seq: 2 }])
    expect(x.received).toHaveLength(4) // A heard nothing: result and 1..3

    // The client moves to A having seen seq 1 of the new epoch.
    const moved = await open(onA)
    const resumed = await subscribe(moved, 1, 'room', 'e', { epoch: second.epoch, seq: 1 })
    expect(resumed).toEqual({ ch: first.ch, seq: 1, epoch: second.epoch })
    expect(await moved.next()).toMatchObject({ t: 'event', ch: first.ch, seq: 2, data: { n: 102 } })
    // A's own subscriber was told of the new epoch once, and got it from its start.
    await expect.poll(() => story(x, first.ch).length).toBe(6)
    // A resume into the old epoch: from the latest, nothing replayed.
    const stale = await open(onA)
    expect(await subscribe(stale, 1, 'room', 'e', { epoch: first.epoch, seq: 3 })).toEqual({ ch: first.ch, seq: 2, epoch: second.epoch })

    // A's SUBSCRIBE goes through; the next event reaches everyone once.
    gate.release()
    const { pubsub } = keysOf(PREFIX, channelOf('room', { room: 'e' }))
    await expect.poll(() => redis.numsub(pubsub), { timeout: 5000 }).toEqual([2])
    await (nodes[1] as Node).publish(api.room, { room: 'e' }, { n: 103 })
    for (const socket of [moved, stale, x]) await expect.poll(() => story(socket, first.ch).at(-1)).toEqual([3, 103])
    await expect.poll(() => story(y, second.ch).at(-1)).toEqual([3, 103])
    expect(story(moved, first.ch)).toEqual([
      [2, 102],
      [3, 103],
    ])
    expect(story(stale, first.ch)).toEqual([[3, 103]])
    expect(story(x, first.ch)).toEqual([[1, 1], [2, 2], [3, 3], { t: 'lag', ch: first.ch, seq: 0, epoch: second.epoch }, [1, 101], [2, 102], [3, 103]])
    // Nothing else comes (no second notice, no repeat): a ping is answered next.
    for (const socket of [moved, stale, x]) {
      const before = socket.received.length
      socket.send({ t: 'ping' })
      await expect.poll(() => socket.received.length).toBe(before + 1)
      expect(socket.received.at(-1)).toEqual({ t: 'pong' })
    }
    expect((nodes[0] as Node).topicStats).toMatchObject({ resets: 1, lost: 0 })
  })
})

describe('Redis lost publications it had acknowledged (docs/protocol.md §12.1)', () => {
  it('a store behind what a node delivered, in the same epoch, starts a new epoch: the reset notice, then the next publish, never a silent repeat', async () => {
    // What Redis does after a crash with `appendfsync everysec`: the last second of writes is
    // gone from the AOF, so the channel's seq goes back (5 → 3) in the same epoch, and its
    // next publishes would take seqs 4 and 5 again, which every node that delivered them drops.
    const url = await startNode(redis.url, 0)
    const socket = await open(url)
    const confirmed = await subscribe(socket, 1, 'room', 'rewound')
    for (let n = 1; n <= 5; n++) await (nodes[0] as Node).publish(api.room, { room: 'rewound' }, { n })
    expect(await socket.take(5)).toMatchObject([1, 2, 3, 4, 5].map((seq) => ({ t: 'event', seq })))
    const keys = keysOf(PREFIX, channelOf('room', { room: 'rewound' }))
    expect(await redisCall(redis.port, 'HSET', keys.meta, 's', '3')).toBe(':0\r\n')
    expect(await redisCall(redis.port, 'XDEL', keys.stream, '4-0', '5-0')).toBe(':2\r\n')
    // The node's link drops with the crash; its resync reads the channel from where it is.
    expect(await redisCall(redis.port, 'CLIENT', 'KILL', 'TYPE', 'pubsub')).toMatch(/^:[1-9]\d*\r\n$/)
    const notice = await socket.next()
    expect(notice).toMatchObject({ t: 'lag', ch: confirmed.ch, seq: 0 })
    const epoch = (notice as { epoch?: unknown }).epoch
    expect(typeof epoch === 'string' && epoch !== confirmed.epoch).toBe(true)
    await expect.poll(() => (nodes[0] as Node).topicStats.engine).toBe('up')
    const position = await (nodes[0] as Node).publish(api.room, { room: 'rewound' }, { n: 6 })
    expect(position).toBeDefined()
    expect(await socket.next()).toMatchObject({ t: 'event', ch: confirmed.ch, seq: 1, data: { n: 6 } })
    expect((nodes[0] as Node).topicStats).toMatchObject({ resets: 1 })
  })
})
