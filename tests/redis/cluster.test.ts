/**
 * Patchbay servers (nodes) on a real 3-master Redis Cluster through @patchbay/redis: sharded
 * pub/sub (SPUBLISH inside the publish script, one SSUBSCRIBE connection per master), channels
 * spread over every shard, one order of seqs per channel, resume on another node, idempotent
 * calls across nodes, and a master SIGKILLed (docs/protocol.md §6, §12, §12.1;
 * packages/redis/README.md "Redis Cluster"). One cluster for the file (started once: the
 * joining takes a second or two), and one more for the test that kills a master.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { channelOf, procedure, router, topic } from '@patchbay/core'
import { createServer, type AsyncEngine, type PatchbayServer } from '@patchbay/server'
import { createRedisEngine, dedupeKeysOf, keySlot, keysOf } from '@patchbay/redis'
import { connectRaw, deferred, type Deferred, type Message, type RawClient } from '../conformance/support.js'
import { RedisCluster, type RedisServer } from '../support/redis.js'

const api = router({
  room: topic({ params: z.object({ room: z.string() }), message: z.object({ from: z.number(), n: z.number() }), publish: 'client' }),
  orders: {
    place: procedure({ input: z.object({ sku: z.string() }), output: z.object({ sku: z.string(), run: z.number() }), idempotent: true }),
  },
})

type Node = PatchbayServer<AsyncEngine>

let cluster: RedisCluster
const nodes: Node[] = []
const urls: string[] = []
const sockets: RawClient[] = []
const errors: Error[] = []
/** Runs of `orders.place` per sku, over every node. */
const runs = new Map<string, number>()
let gate: { started: Deferred; release: Deferred } | undefined
let prefixes = 0

beforeAll(async () => {
  cluster = await RedisCluster.start(3)
})

afterAll(async () => {
  await cluster.stop()
})

afterEach(async () => {
  gate?.release.resolve()
  gate = undefined
  for (const socket of sockets.splice(0)) socket.ws.terminate()
  await Promise.all(nodes.splice(0).map((node) => node.close()))
  urls.splice(0)
  errors.splice(0)
  runs.clear()
})

/** Starts `count` nodes on `on`, sharing a key prefix new to this test; returns the prefix. */
async function startNodes(count: number, on: RedisCluster = cluster, probeIntervalMs?: number): Promise<string> {
  const prefix = `c${++prefixes}:`
  for (let i = 0; i < count; i++) {
    const node = createServer(api, {
      engine: createRedisEngine({
        cluster: { nodes: on.nodes },
        prefix,
        dedupePollMs: 30_000,
        // Nothing here is timed by a command timeout: room for a first connect to three
        // masters on a machine loaded by a second copy of the suite (1 s timed out there).
        commandTimeoutMs: 5_000,
        ...(probeIntervalMs === undefined ? {} : { probeIntervalMs, probeTimeoutMs: 1000 }),
        onError: (error) => errors.push(error),
      }),
      topics: { room: { history: 1000 } },
      handlers: {
        orders: {
          place: async ({ input }) => {
            const run = (runs.get(input.sku) ?? 0) + 1
            runs.set(input.sku, run)
            if (gate !== undefined) {
              gate.started.resolve()
              await gate.release.promise
            }
            return { sku: input.sku, run }
          },
        },
      },
    })
    const { port } = await node.listen({ port: 0, host: '127.0.0.1' })
    nodes.push(node)
    urls.push(`ws://127.0.0.1:${port}`)
  }
  // Every node's command connection and its three subscriber connections are up.
  await expect.poll(() => nodes.every((node) => node.topicStats.engine === 'up'), { timeout: 5000 }).toBe(true)
  return prefix
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

async function subscribe(socket: RawClient, id: number, room: string, resume?: { epoch: string; seq: number }): Promise<Confirmed> {
  socket.send(resume === undefined ? { t: 'sub', id, path: 'room', params: { room } } : { t: 'sub', id, path: 'room', params: { room }, resume })
  let answer = await socket.next()
  while (answer.t === 'event') answer = await socket.next()
  expect(answer).toMatchObject({ t: 'result', id })
  return answer.output as Confirmed
}

const events = (frames: readonly Message[], ch: number): Message[] => frames.filter((frame) => frame.t === 'event' && frame.ch === ch)

/** The pub/sub channel of a room under `prefix`. */
const pubsubOf = (prefix: string, room: string): string => keysOf(prefix, channelOf('room', { room })).pubsub

/** `perShard` rooms served by each master (asked of the cluster: CLUSTER KEYSLOT, CLUSTER NODES). */
async function roomsOnEveryShard(on: RedisCluster, prefix: string, perShard: number): Promise<string[][]> {
  const byShard: string[][] = on.servers.map(() => [])
  for (let i = 0; byShard.some((rooms) => rooms.length < perShard); i++) {
    const room = `r${i}`
    const slot = await on.keyslot(pubsubOf(prefix, room))
    // The engine's own slot function agrees with Redis.
    expect(keySlot(pubsubOf(prefix, room))).toBe(slot)
    const rooms = byShard[await on.ownerOf(slot)] as string[]
    if (rooms.length < perShard) rooms.push(room)
  }
  return byShard
}

describe('@patchbay/redis on a Redis Cluster (3 masters)', () => {
  it('channels on all three shards: publishers on every node, every subscriber gets every seq once in order; one SSUBSCRIBE per channel per node, none after unsubscribe', async () => {
    const prefix = await startNodes(3)
    const byShard = await roomsOnEveryShard(cluster, prefix, 2)
    const rooms = byShard.flat()
    // Each key, stream and pub/sub channel of a room is in one slot (the hash tag), the slots
    // of the six rooms on three different masters.
    for (const room of rooms) {
      const keys = keysOf(prefix, channelOf('room', { room }))
      expect(new Set(await Promise.all([keys.meta, keys.stream, keys.pubsub].map((key) => cluster.keyslot(key)))).size).toBe(1)
    }
    expect(new Set(await Promise.all(rooms.map(async (room) => cluster.ownerOf(await cluster.keyslot(pubsubOf(prefix, room))))))).toEqual(new Set([0, 1, 2]))

    const subscribers: { socket: RawClient; room: string; ch: number; id: number }[] = []
    for (let node = 0; node < 3; node++) {
      // Two subscribers per node, each on every room: still one SSUBSCRIBE per channel per node.
      for (let k = 0; k < 2; k++) {
        const socket = await open(node)
        for (const [index, room] of rooms.entries()) {
          const { ch, seq } = await subscribe(socket, 100 + index, room)
          expect(seq).toBe(0)
          subscribers.push({ socket, room, ch, id: 100 + index })
        }
      }
    }
    expect(await cluster.shardnumsub(...rooms.map((room) => pubsubOf(prefix, room)))).toEqual(rooms.map(() => 3))

    // Publishers on every node at once, server-side and from clients (`pub`), interleaved.
    const perNode = 20
    const publishes: Promise<unknown>[] = []
    const publishers = await Promise.all([0, 1, 2].map((node) => open(node)))
    for (let n = 0; n < perNode; n++) {
      for (let node = 0; node < 3; node++) {
        for (const [index, room] of rooms.entries()) {
          if (n % 2 === 0) publishes.push((nodes[node] as Node).publish(api.room, { room }, { from: node, n }))
          else (publishers[node] as RawClient).send({ t: 'pub', id: n * 100 + index, path: 'room', params: { room }, data: { from: node, n } })
        }
      }
    }
    await Promise.all(publishes)
    const total = perNode * 3
    for (const { socket, ch } of subscribers) {
      await expect.poll(() => events(socket.received, ch).length, { timeout: 10_000 }).toBe(total)
      const got = events(socket.received, ch)
      expect(got.map((event) => event.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1))
      expect(new Set(got.map((event) => `${(event.data as { from: number }).from}:${(event.data as { n: number }).n}`)).size).toBe(total)
    }
    // Every subscriber of a room saw the same events at the same seqs, whichever node it is on.
    for (const room of rooms) {
      const orders = subscribers.filter((each) => each.room === room).map(({ socket, ch }) => JSON.stringify(events(socket.received, ch).map((event) => event.data)))
      expect(new Set(orders).size).toBe(1)
    }
    for (const publisher of publishers) expect(publisher.received.filter((frame) => frame.t === 'error')).toEqual([])
    for (const node of nodes) expect(node.topicStats).toMatchObject({ lost: 0, resets: 0 })

    // Every subscriber leaves: each node SUNSUBSCRIBEs on each master.
    for (const { socket, id } of subscribers) socket.send({ t: 'unsub', id })
    await expect.poll(() => nodes.map((node) => node.topicStats.subscriptions)).toEqual([0, 0, 0])
    await expect.poll(() => cluster.shardnumsub(...rooms.map((room) => pubsubOf(prefix, room))), { timeout: 5000 }).toEqual(rooms.map(() => 0))
    expect(errors).toEqual([])
  })

  it('a client resumes on another node from its last seq, without loss', async () => {
    await startNodes(3)
    const first = await open(0)
    const kept = await subscribe(first, 1, 'resume')
    for (let n = 1; n <= 4; n++) await (nodes[1] as Node).publish(api.room, { room: 'resume' }, { from: 1, n })
    await expect.poll(() => events(first.received, kept.ch).length).toBe(4)
    first.ws.terminate()
    for (let n = 5; n <= 10; n++) await (nodes[2] as Node).publish(api.room, { room: 'resume' }, { from: 2, n })

    const back = await open(2)
    const resumed = await subscribe(back, 1, 'resume', { epoch: kept.epoch, seq: 4 })
    expect(resumed).toMatchObject({ seq: 4, epoch: kept.epoch })
    const replay = await back.take(6)
    expect(replay.map((event) => [event.seq, (event.data as { n: number }).n])).toEqual([5, 6, 7, 8, 9, 10].map((n) => [n, n]))
    await (nodes[0] as Node).publish(api.room, { room: 'resume' }, { from: 0, n: 11 })
    expect(await back.next()).toMatchObject({ t: 'event', ch: resumed.ch, seq: 11, data: { n: 11 } })
  })

  it('an idempotent call cut on node A while running and retried on node B runs once (docs/protocol.md §4.2)', async () => {
    const prefix = await startNodes(2)
    gate = { started: deferred(), release: deferred() }
    const a = await open(0)
    a.send({ t: 'call', id: 1, path: 'orders.place', input: { sku: 'tea' }, key: 'cut-retry' })
    await gate.started.promise
    a.ws.terminate()
    const b = await open(1)
    b.send({ t: 'call', id: 7, path: 'orders.place', input: { sku: 'tea' }, key: 'cut-retry' })
    // B waits for A's run: SSUBSCRIBEd to the key's channel on its master (the poll is 30 s off,
    // so the outcome reaches B by SPUBLISH from the finish script).
    const notify = dedupeKeysOf(prefix, 'orders.place', 'cut-retry').notify
    await expect.poll(() => cluster.shardnumsub(notify)).toEqual([1])
    expect(runs.get('tea')).toBe(1)
    gate.release.resolve()
    expect(await b.next()).toEqual({ t: 'result', id: 7, output: { sku: 'tea', run: 1 } })
    expect(runs.get('tea')).toBe(1)
    // A retry after the run gets the stored outcome, on either node.
    const c = await open(0)
    c.send({ t: 'call', id: 9, path: 'orders.place', input: { sku: 'tea' }, key: 'cut-retry' })
    expect(await c.next()).toEqual({ t: 'result', id: 9, output: { sku: 'tea', run: 1 } })
    expect(runs.get('tea')).toBe(1)
    await expect.poll(() => cluster.shardnumsub(notify)).toEqual([0])
  })

  it("a master's subscriber connections killed (CLIENT KILL TYPE pubsub): SSUBSCRIBEd again by themselves, and the gap filled from the streams", async () => {
    const prefix = await startNodes(2)
    const rooms = (await roomsOnEveryShard(cluster, prefix, 1)).map((shard) => shard[0] as string)
    const clients = [await open(0), await open(1)]
    const confirmed: Confirmed[][] = []
    for (const socket of clients) {
      const each: Confirmed[] = []
      for (const [index, room] of rooms.entries()) each.push(await subscribe(socket, 20 + index, room))
      confirmed.push(each)
    }
    for (let n = 1; n <= 5; n++) for (const room of rooms) await (nodes[n % 2] as Node).publish(api.room, { room }, { from: n % 2, n })
    // Both nodes' connections to master 0 (their subscriber connections there) are cut.
    expect(await (cluster.servers[0] as RedisServer).command('CLIENT KILL TYPE pubsub')).toMatch(/^:2/)
    // Published at once, while the cut connections reconnect: those on master 0 reach no node
    // by SPUBLISH, only the streams.
    await Promise.all(rooms.flatMap((room) => [6, 7, 8, 9, 10].map((n) => (nodes[n % 2] as Node).publish(api.room, { room }, { from: n % 2, n }))))
    await expect.poll(() => cluster.shardnumsub(...rooms.map((room) => pubsubOf(prefix, room))), { timeout: 5000 }).toEqual(rooms.map(() => 2))
    for (const [i, socket] of clients.entries()) {
      for (const { ch } of confirmed[i] as Confirmed[]) {
        await expect.poll(() => events(socket.received, ch).length, { timeout: 5000 }).toBe(10)
        expect(events(socket.received, ch).map((event) => event.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      }
    }
    for (const node of nodes) expect(node.topicStats).toMatchObject({ lost: 0, resets: 0 })
  })

  it('each subscriber connection probes itself on its own master (SPUBLISH to a channel of its slots) and, healthy, is not restarted', async () => {
    const spublishes = async (): Promise<number[]> =>
      Promise.all(
        cluster.servers.map(async (server) => {
          const stats = await server.command('INFO commandstats')
          return Number(/cmdstat_spublish:calls=(\d+)/.exec(stats)?.[1] ?? 0)
        }),
      )
    const before = await spublishes()
    await startNodes(1, cluster, 50)
    const socket = await open(0)
    await subscribe(socket, 1, 'idle')
    // Every master gets probes (each link's channel is in one of its master's slots: a probe
    // published elsewhere would be MOVED, or counted 0 receivers and restart the link).
    await expect.poll(async () => (await spublishes()).map((count, i) => count - (before[i] as number)).every((count) => count >= 5), { timeout: 5000 }).toBe(true)
    expect(errors).toEqual([])
    expect(nodes[0]?.topicStats.engine).toBe('up')
  })

  it('a master SIGKILLed: publishes to its channels fail fast with UNAVAILABLE, the other shards keep working, nothing crashes', async () => {
    const own = await RedisCluster.start(3)
    try {
      const prefix = await startNodes(2, own)
      const byShard = await roomsOnEveryShard(own, prefix, 2)
      const rooms = byShard.map((shard) => shard[0] as string)
      // On the master to be killed, held by no node yet.
      const unheld = (byShard[0] as string[])[1] as string
      const clients = [await open(0), await open(1)]
      const confirmed: Confirmed[][] = []
      for (const socket of clients) {
        const each: Confirmed[] = []
        for (const [index, room] of rooms.entries()) each.push(await subscribe(socket, 10 + index, room))
        confirmed.push(each)
      }
      for (const room of rooms) await (nodes[0] as Node).publish(api.room, { room }, { from: 0, n: 1 })
      for (const [i, socket] of clients.entries()) for (const { ch } of confirmed[i] as Confirmed[]) await expect.poll(() => events(socket.received, ch).length).toBe(1)

      await (own.servers[0] as RedisServer).stop('SIGKILL')
      const dead = rooms[0] as string
      const alive = rooms.slice(1)
      // The nodes notice (their subscriber connection to that master closed).
      await expect.poll(() => nodes.map((node) => node.topicStats.engine)).toEqual(['down', 'down'])
      const started = performance.now()
      await expect((nodes[1] as Node).publish(api.room, { room: dead }, { from: 1, n: 2 })).rejects.toMatchObject({ code: 'UNAVAILABLE' })
      // At once (no offline queue, no retry after a closed connection), not after a command timeout.
      expect(performance.now() - started).toBeLessThan(500)
      // A client's pub on that shard is answered with the retryable UNAVAILABLE (§6); the socket lives.
      ;(clients[1] as RawClient).send({ t: 'pub', id: 99, path: 'room', params: { room: dead }, data: { from: 1, n: 2 } })
      await expect.poll(() => (clients[1] as RawClient).received.find((frame) => frame.id === 99)).toMatchObject({ t: 'error', error: { code: 'UNAVAILABLE' } })
      // A sub needing that master is answered at once with UNAVAILABLE too (Patchbay's client
      // sends it again with backoff).
      const fresh = await open(0)
      fresh.send({ t: 'sub', id: 5, path: 'room', params: { room: unheld } })
      expect(await fresh.next()).toMatchObject({ t: 'error', id: 5, error: { code: 'UNAVAILABLE' } })
      expect(performance.now() - started).toBeLessThan(1000)

      // The other shards go on: published on both nodes, received on both.
      for (const room of alive) {
        await (nodes[0] as Node).publish(api.room, { room }, { from: 0, n: 2 })
        await (nodes[1] as Node).publish(api.room, { room }, { from: 1, n: 3 })
      }
      for (const [i, socket] of clients.entries()) {
        for (const [index, { ch }] of (confirmed[i] as Confirmed[]).entries()) {
          if (index === 0) continue
          await expect.poll(() => events(socket.received, ch).length).toBe(3)
          expect(events(socket.received, ch).map((event) => event.seq)).toEqual([1, 2, 3])
        }
        expect(socket.isOpen).toBe(true)
      }
      // The dead master's connection errors went to onError; none was thrown.
      expect(errors.length).toBeGreaterThan(0)
    } finally {
      for (const socket of sockets.splice(0)) socket.ws.terminate()
      await Promise.all(nodes.splice(0).map((node) => node.close()))
      await own.stop()
    }
  })
})
