/**
 * The liveness probe of the Redis engine's subscriber connection (packages/redis/README.md
 * "A link that stops delivering"; docs/guide/scaling-out.md): a connection whose route stops
 * delivering without closing is found dead by its probe within `probeIntervalMs +
 * probeTimeoutMs` of the last message it received, reconnected and resynced, so what was
 * published meanwhile is repaired from history (docs/protocol.md §12.1); an idle healthy
 * connection is probed and left alone. A small TCP proxy (node:net) stands between node A's
 * engine and the real redis-server (./proxy.ts), and can stop forwarding the bytes of a
 * connection while both of its sockets stay open.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { router, topic } from '@patchbay/core'
import { createServer as createPatchbay, type AsyncEngine, type PatchbayServer } from '@patchbay/server'
import { createRedisEngine, type RedisEngineCommonOptions } from '@patchbay/redis'
import { connectRaw, type Message, type RawClient } from '../conformance/support.js'
import { RedisServer } from '../support/redis.js'
import { FaultProxy } from './proxy.js'

const api = router({
  room: topic({ params: z.object({ room: z.string() }), message: z.object({ n: z.number() }) }),
})

type Node = PatchbayServer<AsyncEngine>

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

/** A node whose engine reaches Redis through the proxy (`proxied`) or directly. */
async function startNode(proxied: boolean, probe: Pick<RedisEngineCommonOptions, 'probeIntervalMs' | 'probeTimeoutMs'> = {}): Promise<{ node: Node; url: string }> {
  const engine = createRedisEngine({
    redis: { host: '127.0.0.1', port: proxied ? proxy.port : redis.port },
    prefix: 'app:',
    ...probe,
    onError: (error) => errors.push(error),
  })
  const node = createPatchbay(api, { handlers: {}, engine, topics: { room: { history: 100 } } })
  const { port } = await node.listen({ port: 0, host: '127.0.0.1' })
  nodes.push(node)
  await expect.poll(() => node.topicStats.engine).toBe('up')
  return { node, url: `ws://127.0.0.1:${port}` }
}

async function subscribe(url: string, room: string): Promise<{ socket: RawClient; ch: number }> {
  const socket = await connectRaw(url, 'json')
  sockets.push(socket)
  socket.send({ t: 'sub', id: 1, path: 'room', params: { room } })
  const answer = await socket.next()
  expect(answer).toMatchObject({ t: 'result', id: 1 })
  return { socket, ch: (answer.output as { ch: number }).ch }
}

const events = (frames: readonly Message[], ch: number): Message[] => frames.filter((frame) => frame.t === 'event' && frame.ch === ch)

const deadLink = (error: Error): boolean => /received nothing/.test(error.message)

describe('@patchbay/redis: the subscriber connection probes its own liveness', () => {
  it('a blackholed subscriber connection is found dead by its probe, restarted, and what was published meanwhile is repaired from history within probeIntervalMs + probeTimeoutMs', async () => {
    const probeIntervalMs = 400
    const probeTimeoutMs = 400
    const a = await startNode(true, { probeIntervalMs, probeTimeoutMs })
    const b = await startNode(false)
    const { socket, ch } = await subscribe(a.url, 'x')
    for (let n = 1; n <= 3; n++) await b.node.publish(api.room, { room: 'x' }, { n })
    await expect.poll(() => events(socket.received, ch).length).toBe(3)

    // A's subscriber connection goes silent: its sockets stay open, nothing passes.
    const silent = performance.now()
    expect(proxy.blackhole((pair) => pair.subscriber)).toBe(1)
    for (let n = 4; n <= 8; n++) await b.node.publish(api.room, { room: 'x' }, { n })

    // The last message A's link received came before `silent`: the probe finds it dead at most
    // probeIntervalMs + probeTimeoutMs after it; then a reconnect (50 ms), a SUBSCRIBE and a
    // history read. Margin: 1 s for a loaded 2-core machine.
    await expect.poll(() => events(socket.received, ch).length, { timeout: 5000, interval: 10 }).toBe(8)
    const repairedAfter = performance.now() - silent
    expect(repairedAfter).toBeLessThan(probeIntervalMs + probeTimeoutMs + 1000)
    // Not before a probe could have been judged (one sent just before the blackhole at the
    // earliest): nothing else told the engine.
    expect(repairedAfter).toBeGreaterThan(probeTimeoutMs / 2)
    expect(events(socket.received, ch).map((event) => [event.seq, (event.data as { n: number }).n])).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((n) => [n, n]))
    expect(a.node.topicStats).toMatchObject({ lost: 0, resets: 0 })
    // One restart, reported to onError; the new connection subscribes through the proxy again.
    expect(errors.filter(deadLink)).toHaveLength(1)
    expect(proxy.pairs.filter((pair) => pair.subscriber)).toHaveLength(2)
    // And it delivers live events again.
    await b.node.publish(api.room, { room: 'x' }, { n: 9 })
    await expect.poll(() => events(socket.received, ch).length).toBe(9)
  })

  it('an idle healthy subscriber connection is probed and not restarted', async () => {
    const probeIntervalMs = 100
    const a = await startNode(true, { probeIntervalMs, probeTimeoutMs: 500 })
    const { socket, ch } = await subscribe(a.url, 'idle')
    // Nothing published: every probeIntervalMs the link probes itself, and hears the probe.
    await expect.poll(() => proxy.pairs.reduce((sum, pair) => sum + pair.probes, 0), { timeout: 5000 }).toBeGreaterThanOrEqual(8)
    // Still the first two connections (command, subscriber): no reconnect, nothing reported.
    expect(proxy.pairs).toHaveLength(2)
    expect(proxy.pairs.filter((pair) => pair.subscriber)).toHaveLength(1)
    expect(errors).toEqual([])
    expect(events(socket.received, ch)).toEqual([])
    expect(a.node.topicStats.engine).toBe('up')
  })
})
