/**
 * Several Patchbay servers (nodes) on one real redis-server, through @patchbay/redis: one
 * order of seqs for every node, resume on another node, Redis lost and restarted empty or with
 * AOF, the subscriber connection cut, and one Redis subscription per channel per node with
 * nothing left behind by subscribe/unsubscribe cycles (docs/protocol.md §12, §12.1;
 * packages/redis/README.md). Each test starts its own redis-server (no persistence unless it
 * needs AOF) and stops it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { channelOf, router, topic } from '@patchbay/core'
import { createServer, type AsyncEngine, type PatchbayServer } from '@patchbay/server'
import { createRedisEngine, inspectRedisEngine, keysOf } from '@patchbay/redis'
import { connectRaw, type Message, type RawClient } from '../conformance/support.js'
import { RedisServer } from '../support/redis.js'
import { trackTimers, type PendingTimer } from '../support/timers.js'
import { FaultProxy } from './proxy.js'

const api = router({
  room: topic({ params: z.object({ room: z.string() }), message: z.object({ from: z.number(), n: z.number() }), publish: 'client' }),
  short: topic({ params: z.object({ room: z.string() }), message: z.object({ n: z.number() }) }),
  gone: topic({ params: z.object({ room: z.string() }), message: z.object({ n: z.number() }) }),
})

type Node = PatchbayServer<AsyncEngine>

let redis: RedisServer
const proxies: FaultProxy[] = []
const nodes: Node[] = []
const engines: AsyncEngine[] = []
const urls: string[] = []
const sockets: RawClient[] = []
const errors: Error[] = []

beforeEach(async () => {
  redis = await RedisServer.start()
})

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.ws.terminate()
  await Promise.all(nodes.splice(0).map((node) => node.close()))
  engines.splice(0)
  urls.splice(0)
  errors.splice(0)
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()))
  await redis.stop()
})

/** What a test changes of the nodes' defaults. */
interface NodeSetup {
  /** Each node reaches Redis through a proxy of its own (`proxies[i]`), which can cut its links. */
  proxied?: boolean
  /** The `room` topic's retainMs (the server's default, 60 s, when absent). */
  roomRetainMs?: number
  /** The position check (docs/protocol.md §12.1); the server's default when absent. */
  positionCheckMs?: number
}

/** Starts `count` nodes on the test's redis-server, all with the same key prefix. */
async function startNodes(count: number, setup: NodeSetup = {}): Promise<void> {
  for (let i = 0; i < count; i++) {
    if (setup.proxied === true) proxies.push(await FaultProxy.start(redis.port))
    const engine = createRedisEngine({
      url: setup.proxied === true ? `redis://127.0.0.1:${(proxies[i] as FaultProxy).port}` : redis.url,
      prefix: 'app:',
      onError: (error) => errors.push(error),
    })
    const node = createServer(api, {
      handlers: {},
      engine,
      topics: { room: { history: 1000, ...(setup.roomRetainMs === undefined ? {} : { retainMs: setup.roomRetainMs }) }, short: { history: 3 }, gone: { retainMs: 0 } },
      ...(setup.positionCheckMs === undefined ? {} : { positionCheckMs: setup.positionCheckMs }),
    })
    const { port } = await node.listen({ port: 0, host: '127.0.0.1' })
    nodes.push(node)
    engines.push(engine)
    urls.push(`ws://127.0.0.1:${port}`)
  }
  // Both connections of every node are up before the test starts (the engine connects on start).
  await expect.poll(() => nodes.every((node) => node.topicStats.engine === 'up')).toBe(true)
}

async function open(node: number): Promise<RawClient> {
  const socket = await connectRaw(urls[node] as string, node % 2 === 0 ? 'json' : 'msgpack')
  sockets.push(socket)
  return socket
}

interface Confirmed {
  ch: number
  seq: number
  epoch: string
}

async function subscribe(socket: RawClient, id: number, path: string, params: unknown, resume?: { epoch: string; seq: number }): Promise<Confirmed> {
  socket.send(resume === undefined ? { t: 'sub', id, path, params } : { t: 'sub', id, path, params, resume })
  // Events of the socket's other subscriptions may come first.
  let answer = await socket.next()
  while (answer.t === 'event') answer = await socket.next()
  expect(answer).toMatchObject({ t: 'result', id })
  return answer.output as Confirmed
}

/** The answer (`result` or `error`) to request `id`, whatever came before or after it. */
async function answerTo(socket: RawClient, id: number): Promise<Message> {
  for (let index = 0; ; index++) {
    const frame = await socket.nth(index)
    if (frame.id === id && (frame.t === 'result' || frame.t === 'error')) return frame
  }
}

const events = (frames: readonly Message[], ch: number): Message[] => frames.filter((frame) => frame.t === 'event' && frame.ch === ch)

/**
 * The redis pub/sub channels of the nodes' topic channels (`app:{<tag>}`: not the links'
 * probe channels `app:probe{…}`), with their subscriber counts.
 */
async function subscriptions(): Promise<number[]> {
  const channels = await redis.channels('app:{*')
  return channels.length === 0 ? [] : redis.numsub(...channels)
}

describe('@patchbay/redis across nodes', () => {
  it('a publish on any node reaches the subscribers of every node, in one order of seqs, each once', async () => {
    await startNodes(3)
    const rooms = ['a', 'b']
    const subscribers: { socket: RawClient; room: string; ch: number }[] = []
    for (let node = 0; node < 3; node++) {
      for (const room of rooms) {
        for (let k = 0; k < 2; k++) {
          const socket = await open(node)
          const { ch, seq } = await subscribe(socket, 1, 'room', { room })
          expect(seq).toBe(0)
          subscribers.push({ socket, room, ch })
        }
      }
    }
    // One Redis subscription per channel per node, however many local subscribers.
    expect(await subscriptions()).toEqual([3, 3])

    // Publishers on every node at once, server-side and from clients (`pub`), interleaved.
    const perNode = 60
    const publishes: Promise<unknown>[] = []
    const publishers = await Promise.all([0, 1, 2].map((node) => open(node)))
    for (let n = 0; n < perNode; n++) {
      for (let node = 0; node < 3; node++) {
        for (const room of rooms) {
          if (n % 2 === 0) publishes.push((nodes[node] as Node).publish(api.room, { room }, { from: node, n }))
          else (publishers[node] as RawClient).send({ t: 'pub', id: n * 10 + rooms.indexOf(room), path: 'room', params: { room }, data: { from: node, n } })
        }
      }
    }
    await Promise.all(publishes)
    const total = perNode * 3
    for (const { socket, ch } of subscribers) {
      await expect.poll(() => events(socket.received, ch).length, { timeout: 10_000 }).toBe(total)
      const got = events(socket.received, ch)
      // Seqs 1..total in order, each once: one order for every node.
      expect(got.map((event) => event.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1))
      // Every publish exactly once (none lost, none doubled).
      const keys = got.map((event) => `${(event.data as { from: number }).from}:${(event.data as { n: number }).n}`)
      expect(new Set(keys).size).toBe(total)
    }
    // Every subscriber of a room saw the same event at the same seq.
    for (const room of rooms) {
      const orders = subscribers.filter((each) => each.room === room).map(({ socket, ch }) => JSON.stringify(events(socket.received, ch).map((event) => event.data)))
      expect(new Set(orders).size).toBe(1)
    }
    for (const node of nodes) expect(node.topicStats).toMatchObject({ lost: 0, resets: 0 })
    expect(errors).toEqual([])
  })

  it('a client resumes on another node from its last seq: exact replay, or the exact gap when history is too short', async () => {
    await startNodes(3)
    const first = await open(0)
    const kept = await subscribe(first, 1, 'room', { room: 'r' })
    const short = await subscribe(first, 2, 'short', { room: 'r' })
    for (let n = 1; n <= 4; n++) {
      await (nodes[1] as Node).publish(api.room, { room: 'r' }, { from: 1, n })
      await (nodes[1] as Node).publish(api.short, { room: 'r' }, { n })
    }
    await expect.poll(() => events(first.received, kept.ch).length + events(first.received, short.ch).length).toBe(8)
    first.ws.terminate()
    // Published while the client is away, on yet another node.
    for (let n = 5; n <= 10; n++) {
      await (nodes[2] as Node).publish(api.room, { room: 'r' }, { from: 2, n })
      await (nodes[2] as Node).publish(api.short, { room: 'r' }, { n })
    }

    const back = await open(2)
    const resumed = await subscribe(back, 1, 'room', { room: 'r' }, { epoch: kept.epoch, seq: 4 })
    expect(resumed).toMatchObject({ seq: 4, epoch: kept.epoch })
    const replay = await back.take(6)
    expect(replay.map((event) => [event.seq, (event.data as { n: number }).n])).toEqual([5, 6, 7, 8, 9, 10].map((n) => [n, n]))

    // History keeps 3 (seqs 8..10): confirmed from the latest, so the client counts 6 missed.
    const gap = await subscribe(back, 2, 'short', { room: 'r' }, { epoch: short.epoch, seq: 4 })
    expect(gap).toMatchObject({ seq: 10, epoch: short.epoch })
    await (nodes[0] as Node).publish(api.short, { room: 'r' }, { n: 11 })
    expect(await back.next()).toMatchObject({ t: 'event', ch: gap.ch, seq: 11, data: { n: 11 } })
    expect(back.received.slice(1 + 6 + 1)).toHaveLength(1)
  })

  // Restarted with AOF instead, the same channel goes on in its epoch: the next test.
  it('Redis killed: publishes fail fast, nothing crashes, subscribers keep their sockets; restarted empty, nodes resubscribe by themselves and the channel starts a new epoch', async () => {
    await startNodes(2)
    const sockets = [await open(0), await open(1)]
    const confirmed = await Promise.all(sockets.map((socket) => subscribe(socket, 1, 'room', { room: 'k' })))
    await (nodes[0] as Node).publish(api.room, { room: 'k' }, { from: 0, n: 1 })
    await (nodes[1] as Node).publish(api.room, { room: 'k' }, { from: 1, n: 2 })
    for (const [i, socket] of sockets.entries()) await expect.poll(() => events(socket.received, (confirmed[i] as Confirmed).ch).length).toBe(2)

    await redis.stop('SIGKILL')
    await expect.poll(() => nodes.map((node) => node.topicStats.engine)).toEqual(['down', 'down'])
    const started = performance.now()
    await expect((nodes[0] as Node).publish(api.room, { room: 'k' }, { from: 0, n: 3 })).rejects.toMatchObject({ code: 'UNAVAILABLE' })
    // Fails at once (no offline queue), well within commandTimeoutMs (1 s).
    expect(performance.now() - started).toBeLessThan(500)
    // A client's pub is answered with the retryable UNAVAILABLE (§6); the socket lives.
    ;(sockets[1] as RawClient).send({ t: 'pub', id: 9, path: 'room', params: { room: 'k' }, data: { from: 1, n: 3 } })
    await expect.poll(() => (sockets[1] as RawClient).received.find((frame) => frame.id === 9)).toMatchObject({ t: 'error', error: { code: 'UNAVAILABLE' } })
    // A sub that needs Redis (a channel this node does not hold) is answered at once with an
    // error; one to a channel the node holds is answered from the node's own state.
    const fresh = await open(0)
    fresh.send({ t: 'sub', id: 5, path: 'room', params: { room: 'elsewhere' } })
    expect(await fresh.next()).toMatchObject({ t: 'error', id: 5, error: { code: 'UNAVAILABLE' } })
    expect(await subscribe(fresh, 6, 'room', { room: 'k' })).toMatchObject({ ch: (confirmed[0] as Confirmed).ch, seq: 2 })
    expect(performance.now() - started).toBeLessThan(1000)
    for (const socket of sockets) expect(socket.isOpen).toBe(true)

    await redis.restart()
    await expect.poll(() => nodes.map((node) => node.topicStats.engine), { timeout: 5000 }).toEqual(['up', 'up'])
    // Re-subscribed by themselves: one subscription per node on the channel again.
    await expect.poll(() => subscriptions(), { timeout: 5000 }).toEqual([2])
    // Redis lost everything: the channel continues in a new epoch, from seq 1, on the same
    // channel number; each subscriber is told once, with a lag naming the new epoch (§12.1).
    await (nodes[1] as Node).publish(api.room, { room: 'k' }, { from: 1, n: 4 })
    for (const [i, socket] of sockets.entries()) {
      const ch = (confirmed[i] as Confirmed).ch
      await expect.poll(() => events(socket.received, ch).length).toBe(3)
      const notices = socket.received.filter((frame) => frame.t === 'lag')
      expect(notices).toHaveLength(1)
      expect(notices[0]).toMatchObject({ t: 'lag', ch, epoch: expect.any(String) })
      expect((notices[0] as { epoch: string }).epoch).not.toBe((confirmed[i] as Confirmed).epoch)
      expect(events(socket.received, ch).map((event) => [event.seq, (event.data as { n: number }).n])).toEqual([
        [1, 1],
        [2, 2],
        [1, 4],
      ])
    }
    await expect.poll(() => nodes.map((node) => node.topicStats.resets)).toEqual([1, 1])
    // A client resuming with the old epoch learns the new one and gets no replay.
    const late = await open(0)
    const resumed = await subscribe(late, 1, 'room', { room: 'k' }, { epoch: (confirmed[0] as Confirmed).epoch, seq: 2 })
    expect(resumed.epoch).not.toBe((confirmed[0] as Confirmed).epoch)
    expect(resumed.seq).toBe(1)
    for (const socket of sockets) expect(socket.isOpen).toBe(true)
    // The connection errors went to onError, none was thrown.
    expect(errors.length).toBeGreaterThan(0)
  })

  // The contrast of the test above: Redis restarted with its AOF keeps each channel's meta (epoch,
  // seq) and stream, so nothing is reset; the restart is a link loss the nodes repair themselves.
  it('Redis killed and restarted with AOF: nodes resubscribe by themselves, the epoch goes on, and what a node had not received comes from the stream', async () => {
    await redis.stop()
    redis = await RedisServer.start([], { appendonly: true })
    // Through proxies, so that one node's subscriber link can be held back; no position check
    // (positionCheckMs 0): only the re-subscribe's resync can repair the gap.
    await startNodes(2, { proxied: true, positionCheckMs: 0 })
    const sockets = [await open(0), await open(1)]
    const confirmed = await Promise.all(sockets.map((socket) => subscribe(socket, 1, 'room', { room: 'aof' })))
    const epoch = (confirmed[0] as Confirmed).epoch
    const seqs = (i: number): [unknown, number][] =>
      events((sockets[i] as RawClient).received, (confirmed[i] as Confirmed).ch).map((event) => [event.seq, (event.data as { n: number }).n])
    const upTo = (last: number): [number, number][] => Array.from({ length: last }, (_, k) => [k + 1, k + 1])
    for (let n = 1; n <= 3; n++) await (nodes[n % 2] as Node).publish(api.room, { room: 'aof' }, { from: n % 2, n })
    for (const i of [0, 1]) await expect.poll(() => seqs(i)).toEqual(upTo(3))

    // Node 1's subscriber link delivers nothing more: seqs 4 and 5 are stored (fsynced to the
    // AOF before Redis answers) and reach node 0 only.
    expect((proxies[1] as FaultProxy).blackhole((pair) => pair.subscriber && !pair.client.destroyed)).toBe(1)
    for (const n of [4, 5]) await (nodes[0] as Node).publish(api.room, { room: 'aof' }, { from: 0, n })
    await expect.poll(() => seqs(0)).toEqual(upTo(5))
    expect(seqs(1)).toEqual(upTo(3))

    await redis.crash()
    // The held-back route breaks with Redis: what it kept back never arrives.
    for (const pair of (proxies[1] as FaultProxy).pairs) if (pair.dead) pair.client.destroy()
    await expect.poll(() => nodes.map((node) => node.topicStats.engine)).toEqual(['down', 'down'])
    // While Redis is down: publishes fail with the retryable UNAVAILABLE (§6), as in the test above.
    await expect((nodes[1] as Node).publish(api.room, { room: 'aof' }, { from: 1, n: 6 })).rejects.toMatchObject({ code: 'UNAVAILABLE' })
    ;(sockets[1] as RawClient).send({ t: 'pub', id: 9, path: 'room', params: { room: 'aof' }, data: { from: 1, n: 6 } })
    await expect.poll(() => (sockets[1] as RawClient).received.find((frame) => frame.id === 9)).toMatchObject({ t: 'error', error: { code: 'UNAVAILABLE' } })

    // Same port, same directory: the AOF replays, and the channel's epoch, seq and stream are back.
    await redis.restart()
    const { meta, stream } = keysOf('app:', channelOf('room', { room: 'aof' }))
    expect(await redis.command(`EVAL "return redis.call('HGET', KEYS[1], 'e') == ARGV[1] and 1 or 0" 1 ${meta} ${epoch}`)).toBe(':1\r\n')
    expect(await redis.command(`EVAL "return tonumber(redis.call('HGET', KEYS[1], 's'))" 1 ${meta}`)).toBe(':5\r\n')
    expect(await redis.command(`XLEN ${stream}`)).toBe(':5\r\n')
    await expect.poll(() => nodes.map((node) => node.topicStats.engine), { timeout: 5000 }).toEqual(['up', 'up'])
    // Re-subscribed by themselves: one subscription per node on the channel again.
    await expect.poll(() => subscriptions(), { timeout: 5000 }).toEqual([2])
    // No publish yet: node 1's resync alone brings seqs 4 and 5 from the stream.
    await expect.poll(() => seqs(1), { timeout: 5000 }).toEqual(upTo(5))

    // Publishes after the restart continue the same epoch on both nodes.
    await (nodes[1] as Node).publish(api.room, { room: 'aof' }, { from: 1, n: 6 })
    await (nodes[0] as Node).publish(api.room, { room: 'aof' }, { from: 0, n: 7 })
    for (const i of [0, 1]) {
      await expect.poll(() => seqs(i)).toEqual(upTo(7))
      // Every seq once, in order, and no notice: nothing was reset or lost (§12.1, §14).
      expect((sockets[i] as RawClient).received.filter((frame) => frame.t === 'lag')).toEqual([])
    }
    for (const node of nodes) expect(node.topicStats).toMatchObject({ resets: 0, lost: 0 })
    // A client resuming on either node in the epoch it knew gets exactly what it missed.
    const late = await open(1)
    expect(await subscribe(late, 1, 'room', { room: 'aof' }, { epoch, seq: 2 })).toMatchObject({ epoch, seq: 2 })
    expect((await late.take(5)).map((event) => event.seq)).toEqual([3, 4, 5, 6, 7])
    for (const socket of sockets) expect(socket.isOpen).toBe(true)
  })

  it('the meta key deleted while two nodes hold the channel: one lag naming the new epoch at seq 0, then its seqs 1 and 2 on every node', async () => {
    await startNodes(2)
    // Two subscribers per node (node 0's speak JSON, node 1's msgpack).
    const sockets = [await open(0), await open(0), await open(1), await open(1)]
    const confirmed = await Promise.all(sockets.map((socket) => subscribe(socket, 1, 'room', { room: 'del' })))
    for (let n = 1; n <= 3; n++) await (nodes[n % 2] as Node).publish(api.room, { room: 'del' }, { from: n % 2, n })
    for (const [i, socket] of sockets.entries()) await expect.poll(() => events(socket.received, (confirmed[i] as Confirmed).ch).length).toBe(3)
    // Redis forgets the channel while both links stay up (as DEL, FLUSHALL or an eviction would):
    // the next publish starts a new epoch at seq 1, and the nodes learn of it from that event.
    const { meta } = keysOf('app:', channelOf('room', { room: 'del' }))
    expect(await redis.command(`DEL ${meta}`)).toBe(':1\r\n')
    await (nodes[1] as Node).publish(api.room, { room: 'del' }, { from: 1, n: 4 })
    await (nodes[1] as Node).publish(api.room, { room: 'del' }, { from: 1, n: 5 })
    for (const [i, socket] of sockets.entries()) {
      const { ch, epoch } = confirmed[i] as Confirmed
      await expect.poll(() => events(socket.received, ch).length, { timeout: 5000 }).toBe(5)
      // docs/protocol.md §12.1: the notice names the seq before the first event delivered after
      // it (0: the stream holds the new epoch from its start), and those events follow, once.
      const frames = socket.received.filter((frame) => frame.ch === ch && (frame.t === 'event' || frame.t === 'lag'))
      expect(frames.map((frame) => (frame.t === 'lag' ? ['lag', frame.seq] : [frame.seq, (frame.data as { n: number }).n]))).toEqual([
        [1, 1],
        [2, 2],
        [3, 3],
        ['lag', 0],
        [1, 4],
        [2, 5],
      ])
      const notice = frames[3] as { epoch: string }
      expect(notice.epoch).not.toBe(epoch)
      expect(notice).toEqual({ t: 'lag', ch, seq: 0, epoch: notice.epoch })
    }
    // Every subscriber on both nodes was told of the same epoch.
    expect(new Set(sockets.map((socket) => (socket.received.find((frame) => frame.t === 'lag') as { epoch: string }).epoch)).size).toBe(1)
    for (const node of nodes) expect(node.topicStats).toMatchObject({ resets: 1, lost: 0 })
    // Nothing else came (no second notice, no repeat): a ping is answered next.
    for (const socket of sockets) {
      const before = socket.received.length
      socket.send({ t: 'ping' })
      await expect.poll(() => socket.received.length).toBe(before + 1)
      expect(socket.received.at(-1)).toEqual({ t: 'pong' })
    }
    expect(errors).toEqual([])
  })

  it('CLIENT KILL TYPE pubsub: nodes re-subscribe by themselves and fill what they missed from the stream', async () => {
    await startNodes(3)
    const subscribers = await Promise.all([0, 1, 2].map((node) => open(node)))
    const confirmed = await Promise.all(subscribers.map((socket) => subscribe(socket, 1, 'room', { room: 'cut' })))
    for (let n = 1; n <= 20; n++) await (nodes[n % 3] as Node).publish(api.room, { room: 'cut' }, { from: n % 3, n })
    expect(await redis.command('CLIENT KILL TYPE pubsub')).toMatch(/^:3/)
    // Published while no node is subscribed: these reach nobody through pub/sub.
    const missed = Array.from({ length: 10 }, (_, i) => 21 + i)
    await Promise.all(missed.map((n) => (nodes[n % 3] as Node).publish(api.room, { room: 'cut' }, { from: n % 3, n })))
    await expect.poll(() => subscriptions(), { timeout: 5000 }).toEqual([3])
    // No further publish: the resync after the reconnect alone repairs the gap from the stream.
    for (const [i, socket] of subscribers.entries()) {
      const ch = (confirmed[i] as Confirmed).ch
      await expect.poll(() => events(socket.received, ch).length, { timeout: 5000 }).toBe(30)
      expect(events(socket.received, ch).map((event) => event.seq)).toEqual(Array.from({ length: 30 }, (_, k) => k + 1))
    }
    for (const node of nodes) expect(node.topicStats).toMatchObject({ lost: 0, resets: 0 })
  })

  // It counts leftovers, not time: 4-14 s here, over 20 s beside other suites on 2 cores.
  it('1,000 subscribe/unsubscribe cycles over two nodes leave no Redis subscription, listener, channel or timer behind', { timeout: 90_000 }, async () => {
    // Every timer made through the globals from here on is tracked (tests/support/timers.ts).
    const timers = trackTimers()
    try {
      // `room` channels kept 200 ms after their last subscriber (their expiry timers must fire
      // and the engine forget them), `gone` ones not at all.
      await startNodes(2, { roomRetainMs: 200 })
      const sockets = [await open(0), await open(1), await open(0), await open(1)]
      const listeners = (): unknown => engines.map((engine) => inspectRedisEngine(engine).connections.map((connection) => connection.listeners))
      const baseline = listeners()
      const mark = timers.mark()

      // 40 rounds of 25 cycles, each round's cycles at once (two of a round may share a socket
      // and a channel). Every fourth cycle unsubscribes in the same breath as it subscribes,
      // while the node is still subscribing in Redis (no answer is awaited: §4.1).
      for (let round = 0; round < 40; round++) {
        const answered: { socket: RawClient; id: number; i: number; room: string; path: string }[] = []
        for (let k = 0; k < 25; k++) {
          const i = round * 25 + k
          const socket = sockets[i % 4] as RawClient
          const room = `c${i % 7}`
          const path = i % 3 === 0 ? 'gone' : 'room'
          const id = 1000 + i
          socket.send({ t: 'sub', id, path, params: { room } })
          if (i % 4 === 3) socket.send({ t: 'unsub', id })
          else answered.push({ socket, id, i, room, path })
        }
        for (const { socket, id } of answered) expect(await answerTo(socket, id)).toMatchObject({ t: 'result', id })
        // The round's channels held on both nodes: the same listeners as with none (one for
        // every channel, none per channel).
        expect(listeners()).toEqual(baseline)
        await Promise.all(
          answered.map(async ({ socket, id, i, room, path }) => {
            const node = nodes[i % 2] as Node
            if (i % 5 === 0) await (path === 'gone' ? node.publish(api.gone, { room }, { n: i }) : node.publish(api.room, { room }, { from: i % 2, n: i }))
            socket.send({ t: 'unsub', id })
          }),
        )
      }

      await expect.poll(() => nodes.map((node) => node.topicStats.subscriptions)).toEqual([0, 0])
      await expect.poll(() => redis.channels('app:{*'), { timeout: 5000 }).toEqual([])
      // Each engine forgot every channel (the `room` ones once their retainMs ran out).
      await expect.poll(() => nodes.map((node) => node.topicStats.channels), { timeout: 5000 }).toEqual([0, 0])
      for (const engine of engines) expect(inspectRedisEngine(engine)).toMatchObject({ held: 0, kept: 0, subscribed: 0, waiting: 0 })
      expect(listeners()).toEqual(baseline)
      // No timer made during the cycles is left: no retainMs expiry, no read retry, no waiting
      // publish, and no position check, whose timer stops only once the node holds no channel
      // (PubSub's map of feeds is empty). Only each subscriber link's probe timer, armed once
      // its probe channel is confirmed (maybe after the mark) and re-armed while the link
      // lives, is the link's and not a cycle's: one per link.
      const left = (): PendingTimer[] => timers.since(mark).filter((timer) => !timer.stack.includes('SubscriberLink.arm'))
      await expect.poll(left, { timeout: 5000 }).toEqual([])
      expect(timers.since(mark).length).toBeLessThanOrEqual(2)

      // A channel with retainMs 0 is forgotten in Redis too once no node holds it; the others are kept.
      const keysOfRoom = (path: string, room: string): string[] => Object.values(keysOf('app:', channelOf(path, { room })))
      const gone = Array.from({ length: 7 }, (_, i) => keysOfRoom('gone', `c${i}`)).flat()
      expect(await redis.command(`EXISTS ${gone.join(' ')}`)).toBe(':0\r\n')
      expect(await redis.command(`EXISTS ${keysOfRoom('room', 'c1')[0] as string}`)).toBe(':1\r\n')
      for (const node of nodes) expect(node.topicStats).toMatchObject({ lost: 0, resets: 0, engine: 'up' })
      expect(errors).toEqual([])
    } finally {
      timers.restore()
    }
  })
})
