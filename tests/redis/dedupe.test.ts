/**
 * Idempotent calls across nodes (docs/protocol.md §4.2, packages/redis/README.md): two
 * Patchbay servers on one real redis-server share the dedupe window of @patchbay/redis, so
 * a keyed call runs once whichever node it, or its retry, reaches. The handler counts its
 * runs over both nodes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { PatchbayError, procedure, router } from '@patchbay/core'
import { createServer, type AsyncEngine, type PatchbayServer } from '@patchbay/server'
import { createRedisEngine, dedupeKeysOf } from '@patchbay/redis'
import { connectRaw, deferred, type Deferred, type Message, type RawClient } from '../conformance/support.js'
import { RedisServer } from '../support/redis.js'

const api = router({
  orders: {
    place: procedure({ input: z.object({ sku: z.string(), fail: z.boolean().optional() }), output: z.object({ sku: z.string(), run: z.number() }), idempotent: true }),
  },
})

type Node = PatchbayServer<AsyncEngine>

let redis: RedisServer
const nodes: Node[] = []
const urls: string[] = []
const sockets: RawClient[] = []
/** Runs of `orders.place` per sku, over every node. */
const runs = new Map<string, number>()
/** Set by a test to hold the handler until it releases it; `started` resolves when a run began. */
let gate: { started: Deferred; release: Deferred } | undefined

beforeEach(async () => {
  redis = await RedisServer.start()
})

afterEach(async () => {
  gate?.release.resolve()
  gate = undefined
  for (const socket of sockets.splice(0)) socket.ws.terminate()
  await Promise.all(nodes.splice(0).map((node) => node.close()))
  urls.splice(0)
  runs.clear()
  await redis.stop()
})

async function startNodes(count: number, windowMs = 60_000, dedupePollMs = 100): Promise<void> {
  for (let i = 0; i < count; i++) {
    const node = createServer(api, {
      engine: createRedisEngine({ url: redis.url, prefix: 'app:', dedupePollMs }),
      idempotency: { windowMs },
      handlers: {
        orders: {
          place: async ({ input }) => {
            const run = (runs.get(input.sku) ?? 0) + 1
            runs.set(input.sku, run)
            if (gate !== undefined) {
              gate.started.resolve()
              await gate.release.promise
            }
            if (input.fail === true) throw new PatchbayError('OUT_OF_STOCK', `No ${input.sku} left`, { data: { sku: input.sku } })
            return { sku: input.sku, run }
          },
        },
      },
    })
    const { port } = await node.listen({ port: 0, host: '127.0.0.1' })
    nodes.push(node)
    urls.push(`ws://127.0.0.1:${port}`)
  }
  await expect.poll(() => nodes.every((node) => node.topicStats.engine === 'up')).toBe(true)
}

async function open(node: number): Promise<RawClient> {
  const socket = await connectRaw(urls[node] as string, node % 2 === 0 ? 'json' : 'msgpack')
  sockets.push(socket)
  return socket
}

/** Sends a keyed call of `orders.place` and resolves with its answer. */
async function call(socket: RawClient, id: number, input: { sku: string; fail?: boolean }, key: string): Promise<Message> {
  socket.send({ t: 'call', id, path: 'orders.place', input, key })
  return socket.next()
}

describe('idempotent calls across nodes, @patchbay/redis (docs/protocol.md §4.2)', () => {
  it('a call cut on node A while running and retried on node B runs once; the retry gets the outcome of A', async () => {
    // A poll far off: the retry learns of the outcome from its publication.
    await startNodes(2, 60_000, 30_000)
    gate = { started: deferred(), release: deferred() }
    const a = await open(0)
    a.send({ t: 'call', id: 1, path: 'orders.place', input: { sku: 'tea' }, key: 'cut-retry' })
    await gate.started.promise
    a.ws.terminate()
    const b = await open(1)
    const retry = call(b, 7, { sku: 'tea' }, 'cut-retry')
    // The retry waits on B for the run on A (subscribed to its outcome; it does not run).
    const notify = dedupeKeysOf('app:', 'orders.place', 'cut-retry').notify
    await expect.poll(() => redis.channels('app:i*')).toEqual([notify])
    expect(runs.get('tea')).toBe(1)
    const released = Date.now()
    gate.release.resolve()
    expect(await retry).toEqual({ t: 'result', id: 7, output: { sku: 'tea', run: 1 } })
    expect(Date.now() - released).toBeLessThan(5000)
    expect(runs.get('tea')).toBe(1)
    expect(nodes[1]?.stats.deduplicated).toBe(1)
    // The waiter's subscription is gone with it.
    await expect.poll(() => redis.channels('app:i*')).toEqual([])
  })

  it('a retry after the run finished gets the stored outcome on the other node without running', async () => {
    await startNodes(2)
    expect(await call(await open(0), 1, { sku: 'tea' }, 'after')).toEqual({ t: 'result', id: 1, output: { sku: 'tea', run: 1 } })
    expect(await call(await open(1), 2, { sku: 'tea' }, 'after')).toEqual({ t: 'result', id: 2, output: { sku: 'tea', run: 1 } })
    // Another key is another call.
    expect(await call(await open(1), 3, { sku: 'tea' }, 'other')).toEqual({ t: 'result', id: 3, output: { sku: 'tea', run: 2 } })
    expect(runs.get('tea')).toBe(2)
  })

  it('two simultaneous calls with one key on two nodes run once and both get the outcome', async () => {
    await startNodes(2)
    const [a, b] = await Promise.all([open(0), open(1)])
    for (let round = 0; round < 20; round++) {
      const key = `same-${round}`
      const answers = await Promise.all([call(a, round, { sku: key }, key), call(b, round, { sku: key }, key)])
      expect(answers.map((answer) => answer.output)).toEqual([
        { sku: key, run: 1 },
        { sku: key, run: 1 },
      ])
      expect(runs.get(key)).toBe(1)
    }
  })

  it('an error outcome is replayed on the other node as the same error', async () => {
    await startNodes(2)
    const first = await call(await open(0), 1, { sku: 'milk', fail: true }, 'fails')
    expect(first).toEqual({ t: 'error', id: 1, error: { code: 'OUT_OF_STOCK', message: 'No milk left', data: { sku: 'milk' } } })
    const again = await call(await open(1), 2, { sku: 'milk', fail: true }, 'fails')
    expect(again).toEqual({ ...first, id: 2 })
    expect(runs.get('milk')).toBe(1)
  })

  it('with Redis down a keyed call fails fast with UNAVAILABLE and does not run; an unkeyed one runs', async () => {
    await startNodes(1)
    const socket = await open(0)
    await redis.stop('SIGKILL')
    await expect.poll(() => nodes[0]?.topicStats.engine).toBe('down')
    const started = Date.now()
    const answer = await call(socket, 1, { sku: 'tea' }, 'down')
    expect(Date.now() - started).toBeLessThan(1000)
    expect(answer).toMatchObject({ t: 'error', id: 1, error: { code: 'UNAVAILABLE' } })
    expect(runs.get('tea')).toBeUndefined()
    socket.send({ t: 'call', id: 2, path: 'orders.place', input: { sku: 'tea' } })
    expect(await socket.next()).toEqual({ t: 'result', id: 2, output: { sku: 'tea', run: 1 } })
  })

  it('a run longer than the window keeps its claim: a retry on the other node after windowMs waits for it', async () => {
    const windowMs = 600
    await startNodes(2, windowMs)
    gate = { started: deferred(), release: deferred() }
    ;(await open(0)).send({ t: 'call', id: 1, path: 'orders.place', input: { sku: 'tea' }, key: 'long' })
    await gate.started.promise
    // Time is what is tested here: twice the window, so an unrenewed claim would be gone.
    await new Promise((resolve) => setTimeout(resolve, 2 * windowMs))
    const retry = call(await open(1), 2, { sku: 'tea' }, 'long')
    const notify = dedupeKeysOf('app:', 'orders.place', 'long').notify
    await expect.poll(() => redis.channels('app:i*')).toEqual([notify])
    gate.release.resolve()
    expect(await retry).toEqual({ t: 'result', id: 2, output: { sku: 'tea', run: 1 } })
    expect(runs.get('tea')).toBe(1)
  })

  it('a key claimed by a node that died (no outcome) runs again once the claim expired', async () => {
    const windowMs = 1500
    await startNodes(1, windowMs)
    // What a node killed mid-run leaves: the claim, and no outcome.
    const keys = dedupeKeysOf('app:', 'orders.place', 'orphan')
    expect(await redis.command(`SET ${keys.claim} dead-node.r1 NX PX ${windowMs}`)).toBe('+OK\r\n')
    const started = Date.now()
    const answer = await call(await open(0), 1, { sku: 'tea' }, 'orphan')
    const waited = Date.now() - started
    expect(answer).toEqual({ t: 'result', id: 1, output: { sku: 'tea', run: 1 } })
    expect(runs.get('tea')).toBe(1)
    // It waited for the claim to expire (a little less: the SET came first), not much longer.
    expect(waited).toBeGreaterThanOrEqual(windowMs - 300)
    expect(waited).toBeLessThan(windowMs + 1500)
  })
})
