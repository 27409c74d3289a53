/**
 * Idempotent calls across node processes (docs/protocol.md §4.2, packages/redis/README.md):
 * node A is a child process (tests/redis/fixtures/dedupe-node.mjs) whose runs last until the
 * test releases them or SIGKILLs it; node B runs in this process. Both on one real
 * redis-server, the dedupe window in Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { procedure, router } from '@patchbay/core'
import { createServer, type AsyncEngine, type PatchbayServer } from '@patchbay/server'
import { createRedisEngine, dedupeKeysOf } from '@patchbay/redis'
import { connectRaw, type Message, type RawClient } from '../conformance/support.js'
import { RedisServer } from '../support/redis.js'

const WINDOW_MS = 1500

const api = router({
  orders: { place: procedure({ input: z.object({ sku: z.string() }), output: z.object({ sku: z.string(), pid: z.number() }), idempotent: true }) },
})

/** The child node: its stdout events, a wait for one, its exit. */
class ChildNode {
  readonly events: Record<string, unknown>[] = []
  readonly exited: Promise<void>
  private readonly child: ChildProcess
  private wake: (() => void) | undefined
  stderr = ''

  constructor(redisUrl: string) {
    const script = fileURLToPath(new URL('./fixtures/dedupe-node.mjs', import.meta.url))
    this.child = spawn(process.execPath, [script], { env: { ...process.env, REDIS_URL: redisUrl, PREFIX: 'app:', WINDOW_MS: String(WINDOW_MS) }, stdio: ['pipe', 'pipe', 'pipe'] })
    let pending = ''
    this.child.stdout?.setEncoding('utf8')
    this.child.stdout?.on('data', (chunk: string) => {
      pending += chunk
      for (let newline = pending.indexOf('\n'); newline !== -1; newline = pending.indexOf('\n')) {
        this.events.push(JSON.parse(pending.slice(0, newline)) as Record<string, unknown>)
        pending = pending.slice(newline + 1)
      }
      this.wake?.()
    })
    this.child.stderr?.setEncoding('utf8')
    this.child.stderr?.on('data', (chunk: string) => (this.stderr += chunk))
    this.child.stdin?.on('error', () => {})
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()))
  }

  /** The first event named `name` (with `sku`), within 10 s. */
  async waitFor(name: string, sku?: string): Promise<Record<string, unknown>> {
    const deadline = Date.now() + 10_000
    for (;;) {
      const found = this.events.find((event) => event.event === name && (sku === undefined || event.sku === sku))
      if (found !== undefined) return found
      if (Date.now() > deadline) throw new Error(`no ${name} from the child node; stderr: ${this.stderr}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200)
        this.wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  }

  runs(sku: string): number {
    return this.events.filter((event) => event.event === 'run' && event.sku === sku).length
  }

  release(sku: string): void {
    this.child.stdin?.write(`${JSON.stringify({ release: sku })}\n`)
  }

  async kill(): Promise<void> {
    this.child.kill('SIGKILL')
    await this.exited
  }
}

let redis: RedisServer
let child: ChildNode | undefined
let node: PatchbayServer<AsyncEngine> | undefined
const sockets: RawClient[] = []
/** Runs on node B (this process), per sku. */
const runs = new Map<string, number>()

beforeEach(async () => {
  redis = await RedisServer.start()
})

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.ws.terminate()
  await child?.kill()
  child = undefined
  await node?.close()
  node = undefined
  runs.clear()
  await redis.stop()
})

/** Starts the child node A and node B here; resolves with their URLs. */
async function startNodes(): Promise<[string, string]> {
  child = new ChildNode(redis.url)
  const port = (await child.waitFor('listening')).port as number
  node = createServer(api, {
    engine: createRedisEngine({ url: redis.url, prefix: 'app:', dedupePollMs: 100 }),
    idempotency: { windowMs: WINDOW_MS },
    handlers: {
      orders: {
        place: ({ input }) => {
          runs.set(input.sku, (runs.get(input.sku) ?? 0) + 1)
          return { sku: input.sku, pid: process.pid }
        },
      },
    },
  })
  const b = await node.listen({ port: 0, host: '127.0.0.1' })
  await expect.poll(() => node?.topicStats.engine).toBe('up')
  return [`ws://127.0.0.1:${port}`, `ws://127.0.0.1:${b.port}`]
}

async function open(url: string): Promise<RawClient> {
  const socket = await connectRaw(url, 'msgpack')
  sockets.push(socket)
  return socket
}

function call(socket: RawClient, id: number, sku: string, key: string): Promise<Message> {
  socket.send({ t: 'call', id, path: 'orders.place', input: { sku }, key })
  return socket.next()
}

/** Resolves once node B waits for `key`'s outcome (subscribed to it in Redis). */
async function waiting(key: string): Promise<void> {
  const notify = dedupeKeysOf('app:', 'orders.place', key).notify
  await expect.poll(() => redis.channels('app:i*')).toEqual([notify])
}

describe('idempotent calls across node processes (docs/protocol.md §4.2)', () => {
  it('a call cut on node A (a process) mid-run and retried on node B runs once; B answers with A\u2019s outcome', async () => {
    const [urlA, urlB] = await startNodes()
    const a = await open(urlA)
    a.send({ t: 'call', id: 1, path: 'orders.place', input: { sku: 'tea' }, key: 'cut' })
    const { pid } = await (child as ChildNode).waitFor('run', 'tea')
    a.ws.terminate()
    const retry = call(await open(urlB), 5, 'tea', 'cut')
    await waiting('cut')
    ;(child as ChildNode).release('tea')
    expect(await retry).toEqual({ t: 'result', id: 5, output: { sku: 'tea', pid } })
    expect((child as ChildNode).runs('tea')).toBe(1)
    expect(runs.get('tea')).toBeUndefined()
  })

  it('node A SIGKILLed mid-run: the retry waiting on node B runs once the claim expired, within the window', async () => {
    const [urlA, urlB] = await startNodes()
    ;(await open(urlA)).send({ t: 'call', id: 1, path: 'orders.place', input: { sku: 'tea' }, key: 'killed' })
    await (child as ChildNode).waitFor('run', 'tea')
    const retry = call(await open(urlB), 5, 'tea', 'killed')
    await waiting('killed')
    await (child as ChildNode).kill()
    const killed = Date.now()
    expect(await retry).toEqual({ t: 'result', id: 5, output: { sku: 'tea', pid: process.pid } })
    const waited = Date.now() - killed
    // A renewed its claim every windowMs / 3, so it outlived A by about 2/3 to 1 window (less
    // only when a renewal came late on a loaded machine); B's poll (100 ms) then takes it.
    // The lower bound shows B waited for the claim rather than running at once.
    expect(waited).toBeGreaterThanOrEqual(WINDOW_MS / 3)
    expect(waited).toBeLessThan(WINDOW_MS + 1500)
    expect(runs.get('tea')).toBe(1)
    // Another retry now gets B's stored outcome.
    expect(await call(await open(urlB), 6, 'tea', 'killed')).toEqual({ t: 'result', id: 6, output: { sku: 'tea', pid: process.pid } })
    expect(runs.get('tea')).toBe(1)
  })
})
