/**
 * Fuzzing a real server in a process of its own (docs/protocol.md §3–§15, §9 "Limits and
 * untrusted input"): for ~15 s, many connections in both encodings send mutated frames of
 * every message type (see frames.ts) while a canary connection keeps calling. Asserted: no
 * uncaught exception or unhandled rejection in the server, which stays up; the canary never
 * fails a call; and once the fuzzing connections are gone, the server's heap after GC is back
 * near its baseline. Every failure names its seed: FUZZ_SEED=<seed> reruns the same frames.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { HeapServer } from '../process/heap-server.js'
import { connectionPlan, toFrame, type ConnectionPlan } from './frames.js'
import { TAG, toWire } from '../support/wire.js'

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))
const FUZZ_MS = Number(process.env.FUZZ_MS ?? 15_000)
/** The warm-up pass before the heap baseline. */
const WARM_MS = 3_000
/** How long a connection may take to answer a ping after its frames (or close): a loaded machine. */
const ANSWER_MS = 10_000
const PROTOCOL = { json: 'patchbay.v1.json', msgpack: 'patchbay.v1.msgpack' } as const

let child: HeapServer
let url: string
beforeAll(async () => {
  // Bounded server-wide state, so that what fuzzing legitimately leaves behind (kept channels,
  // remembered outcomes) is small next to the heap margin.
  child = new HeapServer({
    RETENTION: JSON.stringify({ maxChannels: 50 }),
    IDEMPOTENCY: JSON.stringify({ maxKeys: 50 }),
  })
  url = `ws://127.0.0.1:${await child.port}`
})
afterAll(async () => {
  await child?.stop()
})

/** A connection calling `add` one call after another, recording anything but the right answer. */
class Canary {
  failure: string | undefined
  calls = 0
  private stopped = false
  private readonly ws: WebSocket
  private readonly done: Promise<void>

  constructor(target: string) {
    this.ws = new WebSocket(target, [PROTOCOL.json])
    this.ws.on('error', (error) => this.fail(`socket error: ${String(error)}`))
    this.ws.on('close', (code) => {
      if (!this.stopped) this.fail(`closed with ${code}`)
    })
    this.done = new Promise((resolve) => this.ws.once('open', () => void this.loop().then(resolve)))
  }

  private fail(reason: string): void {
    this.failure ??= reason
  }

  private async loop(): Promise<void> {
    let id = 0
    while (!this.stopped && this.failure === undefined) {
      id++
      const answer = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve(`no answer to call ${id} within ${ANSWER_MS} ms`), ANSWER_MS)
        const onMessage = (data: Buffer): void => {
          clearTimeout(timer)
          this.ws.off('message', onMessage)
          resolve(data.toString('utf8'))
        }
        this.ws.on('message', onMessage)
        this.ws.send(JSON.stringify(toWire({ t: 'call', id, path: 'add', input: { a: id, b: 1 } })))
      })
      // Exactly the §3 result array, nothing else.
      if (answer !== JSON.stringify([TAG.result, id, id + 1])) this.fail(`call ${id}: ${answer}`)
      else this.calls++
      // Paced well inside the rate limit: the canary is a well-behaved client.
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }

  async stop(): Promise<void> {
    this.stopped = true
    await this.done
    this.ws.close()
  }
}

/** Opens a fuzzing connection, sends its frames, then a ping; resolves when answered or closed. */
async function fuzzConnection(target: string, plan: ConnectionPlan): Promise<void> {
  const ws = new WebSocket(target, [PROTOCOL[plan.encoding]])
  ws.on('error', () => {})
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()))
  const opened = await new Promise<boolean>((resolve) => {
    ws.once('open', () => resolve(true))
    ws.once('close', () => resolve(false))
  })
  if (!opened) throw new Error('the server refused a fuzzing connection')
  for (const framing of plan.frames) {
    if (ws.readyState !== WebSocket.OPEN) break
    const { data, binary } = toFrame(plan.encoding, framing)
    ws.send(data, { binary })
  }
  // Everything before the ping was handled once its pong comes (or the server closed us).
  // §3: a ping is `[5]`, its pong `[6]` (msgpack: fixarray of one, 0x91, then the fixint).
  const ping = plan.encoding === 'json' ? JSON.stringify([TAG.ping]) : Buffer.from([0x91, TAG.ping])
  const pong = plan.encoding === 'json' ? Buffer.from(JSON.stringify([TAG.pong])) : Buffer.from([0x91, TAG.pong])
  const answered = new Promise<void>((resolve) => {
    ws.on('message', (data: Buffer) => {
      if (data.equals(pong)) resolve()
    })
  })
  if (ws.readyState === WebSocket.OPEN) ws.send(ping, { binary: plan.encoding === 'msgpack' })
  let timer: ReturnType<typeof setTimeout> | undefined
  const result = await Promise.race([
    answered.then(() => 'answered'),
    closed.then(() => 'closed'),
    new Promise<string>((resolve) => (timer = setTimeout(() => resolve('silent'), ANSWER_MS))),
  ])
  clearTimeout(timer)
  if (plan.end === 'close') ws.close()
  else ws.terminate()
  await closed
  if (result === 'silent') throw new Error(`the server neither answered a ping nor closed within ${ANSWER_MS} ms`)
}

describe('fuzz: mutated frames from many connections', () => {
  it(`leaves the server up, the canary served and the heap bounded (seed ${SEED})`, { timeout: 90_000 }, async () => {
    const context = `FUZZ_SEED=${SEED}`
    const canary = new Canary(url)
    // A first pass warms the server's code paths, so the baseline is not taken cold.
    await fc.assert(
      fc.asyncProperty(fc.array(connectionPlan, { minLength: 1, maxLength: 4 }), async (plans) => {
        await Promise.all(plans.map((plan) => fuzzConnection(url, plan)))
      }),
      { seed: SEED + 1, numRuns: 1_000_000, interruptAfterTimeLimit: WARM_MS, markInterruptAsFailure: false, endOnFailure: true },
    )
    await expect.poll(async () => (await child.heap()).connections, { timeout: 10_000 }).toBe(1)
    const baseline = await child.heap()
    let runs = 0
    await fc.assert(
      fc.asyncProperty(fc.array(connectionPlan, { minLength: 1, maxLength: 4 }), async (plans) => {
        runs++
        await Promise.all(plans.map((plan) => fuzzConnection(url, plan)))
        expect(child.faults, context).toEqual([])
        expect(child.running, context).toBe(true)
        expect(canary.failure, context).toBeUndefined()
      }),
      { seed: SEED, numRuns: 1_000_000, interruptAfterTimeLimit: FUZZ_MS, markInterruptAsFailure: false, endOnFailure: true },
    )
    await canary.stop()
    expect(canary.failure, context).toBeUndefined()
    expect(canary.calls, context).toBeGreaterThan(50)
    expect(child.faults, `${context}\n${child.stderr}`).toEqual([])
    expect(child.running, context).toBe(true)
    // Every fuzzing connection is gone (the canary too): the heap comes back near baseline.
    await expect.poll(async () => (await child.heap()).connections, { timeout: 10_000 }).toBe(0)
    const after = await child.heap()
    const grown = after.heapUsed - baseline.heapUsed
    // Generous: what fuzzing may leave is bounded (50 kept channels, 50 outcomes) and small;
    // a leak per connection or per frame over hundreds of runs is far larger.
    expect(grown, `${context}: ${runs} runs, heap grew ${(grown / 1e6).toFixed(1)} MB`).toBeLessThan(16_000_000)
    expect(runs, context).toBeGreaterThan(20)
  })
})
