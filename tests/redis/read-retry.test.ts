/**
 * A history read that times out on @patchbay/redis is made again, with real nodes on a real
 * redis-server (docs/protocol.md §12.1 "Events lost on their way"): node B reaches Redis
 * through a TCP proxy that, once armed, holds B's next script call (the history read, an
 * EVALSHA) and everything after it on that connection for longer than B's
 * `commandTimeoutMs`. So B's read fails as on a starved machine, while Redis keeps every
 * event. The gap is filled from history (no `lag`), and a resume gets its exact replay.
 */
import { createConnection, createServer as createTcpServer, type Server, type Socket } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Packr } from 'msgpackr'
import { z } from 'zod'
import { channelOf, router, topic } from '@patchbay/core'
import { createServer, type AsyncEngine, type PatchbayServer } from '@patchbay/server'
import { createRedisEngine, keysOf } from '@patchbay/redis'
import { connectRaw, type RawClient } from '../conformance/support.js'
import { RedisServer, storeWithoutPublish } from '../support/redis.js'

const api = router({
  room: topic({ params: z.object({ room: z.string() }), message: z.object({ n: z.number() }) }),
})
const PREFIX = 'rr:'
const TOPICS = { room: { history: 100 } }
/** B's command timeout, and how long the proxy holds a read: well past it, on a loaded machine too. */
const TIMEOUT_MS = 150
const HOLD_MS = 700

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

async function startNode(url: string, commandTimeoutMs?: number): Promise<string> {
  const engine = createRedisEngine({ url, prefix: PREFIX, onError: () => {}, ...(commandTimeoutMs === undefined ? {} : { commandTimeoutMs }) })
  const node = createServer(api, { handlers: {}, engine, topics: TOPICS, positionCheckMs: 0 })
  nodes.push(node)
  const { port } = await node.listen({ port: 0, host: '127.0.0.1' })
  await expect.poll(() => node.topicStats.engine).toBe('up')
  return `ws://127.0.0.1:${port}`
}

async function open(url: string): Promise<RawClient> {
  const socket = await connectRaw(url, 'json')
  sockets.push(socket)
  return socket
}

const EVALSHA = /evalsha/i

/**
 * A TCP proxy to Redis. `slowNextScript()` arms it: the next chunk a client sends that calls
 * a script, and all that connection sends after it, reach Redis HOLD_MS later (in order), so
 * the call's answer comes after the client's command timeout. Resolves once it is held.
 */
async function startSlowProxy(target: number) {
  let armed = false
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
    let queue: Buffer[] | undefined
    downstream.on('data', (chunk: Buffer) => {
      if (queue === undefined && armed && EVALSHA.test(chunk.toString('latin1'))) {
        armed = false
        const held: Buffer[] = []
        queue = held
        onHeld?.()
        setTimeout(() => {
          queue = undefined
          for (const part of held) upstream.write(part)
        }, HOLD_MS)
      }
      if (queue !== undefined) queue.push(chunk)
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
    slowNextScript(): Promise<void> {
      armed = true
      return new Promise((resolve) => (onHeld = resolve))
    },
  }
}

const packr = new Packr({ useRecords: false })

async function publishLost(room: string, n: number): Promise<void> {
  const keys = keysOf(PREFIX, channelOf('room', { room }))
  expect(await storeWithoutPublish(redis.port, keys, TOPICS.room.history, packr.pack({ n }))).toBe(n)
}

interface Confirmed {
  ch: number
  seq: number
  epoch: string
}

async function subscribe(socket: RawClient, room: string, resume?: { epoch: string; seq: number }): Promise<Confirmed> {
  socket.send({ t: 'sub', id: 1, path: 'room', params: { room }, ...(resume === undefined ? {} : { resume }) })
  const answer = await socket.next()
  expect(answer).toMatchObject({ t: 'result', id: 1 })
  return answer.output as Confirmed
}

describe('a history read that times out is made again (docs/protocol.md §12.1)', () => {
  it('a gap revealed while B reads slower than its commandTimeoutMs is filled from history: no lag, every event once, in order', async () => {
    const proxy = await startSlowProxy(redis.port)
    await startNode(redis.url)
    const onB = await startNode(proxy.url, TIMEOUT_MS)
    const x = await open(onB)
    const { ch } = await subscribe(x, 'gap')
    for (let n = 1; n <= 3; n++) await (nodes[0] as Node).publish(api.room, { room: 'gap' }, { n })
    expect(await x.take(3)).toMatchObject([{ seq: 1 }, { seq: 2 }, { seq: 3 }])
    await publishLost('gap', 4)
    const held = proxy.slowNextScript()
    // 5 reveals the gap on B; B's read of it is held past B's timeout.
    await (nodes[0] as Node).publish(api.room, { room: 'gap' }, { n: 5 })
    await held
    expect(await x.take(2)).toEqual([
      { t: 'event', ch, seq: 4, data: { n: 4 } },
      { t: 'event', ch, seq: 5, data: { n: 5 } },
    ])
    await (nodes[0] as Node).publish(api.room, { room: 'gap' }, { n: 6 })
    expect(await x.next()).toEqual({ t: 'event', ch, seq: 6, data: { n: 6 } })
    expect((nodes[1] as Node).topicStats.lost).toBe(0)
  })

  it('a resume on B whose read is slower than its commandTimeoutMs gets its exact replay, not the latest', async () => {
    const proxy = await startSlowProxy(redis.port)
    await startNode(redis.url)
    const onB = await startNode(proxy.url, TIMEOUT_MS)
    const x = await open(onB)
    const first = await subscribe(x, 'resume')
    for (let n = 1; n <= 5; n++) await (nodes[0] as Node).publish(api.room, { room: 'resume' }, { n })
    expect(await x.take(5)).toMatchObject([{ seq: 1 }, { seq: 2 }, { seq: 3 }, { seq: 4 }, { seq: 5 }])
    const held = proxy.slowNextScript()
    const y = await open(onB)
    const answered = subscribe(y, 'resume', { epoch: first.epoch, seq: 2 })
    await held
    expect(await answered).toEqual({ ch: first.ch, seq: 2, epoch: first.epoch })
    expect(await y.take(3)).toEqual([3, 4, 5].map((n) => ({ t: 'event', ch: first.ch, seq: n, data: { n } })))
  })
})
