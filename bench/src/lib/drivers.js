/**
 * The load drivers, one per scenario. Each gets a system's adapter and the scenario's
 * parameters and resolves with its figures. Every loop is bounded by a count and a time.
 */
import { emit, now, sleep } from './child-io.js'

/** @typedef {import('./load-main.js').LoadAdapter} LoadAdapter */
/** @typedef {Record<string, any>} Params */

/**
 * Checks an answer: a benchmark of wrong answers is worth nothing.
 * @param {unknown} got
 * @param {number} expected
 */
function check(got, expected) {
  if (got !== expected) throw new Error(`add answered ${String(got)}, expected ${expected}`)
}

/**
 * One socket, `inFlight` calls always outstanding; counts completions in the measured window.
 * @param {LoadAdapter} adapter
 * @param {Params} p
 */
async function rpcThroughput(adapter, p) {
  const client = await adapter.connect(p.url)
  let running = true
  let completed = 0
  const maxCalls = p.maxCalls
  /** @param {number} seed */
  async function worker(seed) {
    let a = seed
    while (running && completed < maxCalls) {
      check(await client.add(a, 1), a + 1)
      completed++
      a = (a + 1) & 0xffff
    }
  }
  const workers = Array.from({ length: p.inFlight }, (_, i) => worker(i * 1000))
  const failed = Promise.all(workers).then(() => {
    if (running) throw new Error(`the call cap of ${maxCalls} was reached before the window ended`)
  })
  await Promise.race([sleep(p.warmupMs), failed])
  const c0 = completed
  const t0 = now()
  await Promise.race([sleep(p.measureMs), failed])
  const c1 = completed
  const t1 = now()
  running = false
  if (c1 === c0) throw new Error('no call completed in the measured window')
  await Promise.race([Promise.all(workers), sleep(2_000)])
  await client.close()
  return { callsPerSec: ((c1 - c0) * 1000) / (t1 - t0), calls: c1 - c0 }
}

/**
 * One socket, one call at a time; per-call round-trip times after a warmup.
 * @param {LoadAdapter} adapter
 * @param {Params} p
 */
async function rpcLatency(adapter, p) {
  const client = await adapter.connect(p.url)
  const warmupEnd = now() + p.maxMs / 4
  for (let i = 0; i < p.warmupCalls && now() < warmupEnd; i++) check(await client.add(i, 2), i + 2)
  const samples = new Float64Array(p.calls)
  const deadline = now() + p.maxMs
  let n = 0
  for (; n < p.calls && now() < deadline; n++) {
    const t0 = now()
    const sum = await client.add(n, 3)
    samples[n] = now() - t0
    check(sum, n + 3)
  }
  await client.close()
  if (n === 0) throw new Error('no call completed in time')
  const sorted = samples.subarray(0, n).sort()
  /** @param {number} q */
  const at = (q) => (sorted[Math.min(n - 1, Math.floor(q * n))] ?? NaN) * 1000
  let total = 0
  for (const s of sorted) total += s
  return { p50Us: at(0.5), p99Us: at(0.99), meanUs: (total / n) * 1000, calls: n }
}

/**
 * Opens `connections` sockets (each makes one call, then idles), tells the runner, and
 * holds them until the runner has measured the server and says stop.
 * @param {LoadAdapter} adapter
 * @param {Params} p
 */
async function idleMemory(adapter, p) {
  const t0 = now()
  /** @type {import('./load-main.js').RpcClient[]} */
  const clients = []
  let next = 0
  async function opener() {
    while (next < p.connections && now() - t0 < p.maxMs) {
      const i = next++
      const client = await adapter.connect(p.url)
      check(await client.add(i, 4), i + 4)
      clients.push(client)
    }
  }
  await Promise.all(Array.from({ length: p.openConcurrency }, opener))
  if (clients.length < p.connections) throw new Error(`opened ${clients.length} of ${p.connections} in ${p.maxMs} ms`)
  const openMs = now() - t0
  const stop = new Promise((resolve) => process.once('message', resolve))
  emit({ event: 'ready', connections: clients.length })
  await Promise.race([stop, sleep(p.holdMs)])
  // Sockets are dropped with the process: the server is torn down next anyway.
  return { connections: clients.length, openMs }
}

/**
 * One publisher, `subscribers` sockets on one topic. The publisher keeps at most `window`
 * messages ahead of the average subscriber, so the figure is delivered (not buffered)
 * throughput and memory stays bounded by the window, not by the run's length.
 * @param {LoadAdapter} adapter
 * @param {Params} p
 */
async function fanOut(adapter, p) {
  const subscribe = adapter.subscribe
  const publisher = adapter.publisher
  if (subscribe === undefined || publisher === undefined) throw new Error('this system has no topics')
  const join = () => subscribe(p.url, topic, onMessage)
  const topic = 'bench'
  const body = 'x'.repeat(p.bodyBytes)
  const S = p.subscribers
  let delivered = 0
  let sent = 0
  let running = false
  let scheduled = false
  /** @type {unknown} */
  let publishError

  /** @type {import('./load-main.js').Subscription[]} */
  const subs = []
  let next = 0
  const t0 = now()
  async function opener() {
    while (next < S && now() - t0 < p.maxMs) {
      next++
      subs.push(await join())
    }
  }
  await Promise.all(Array.from({ length: p.openConcurrency }, opener))
  if (subs.length < S) throw new Error(`subscribed ${subs.length} of ${S} in ${p.maxMs} ms`)
  const pub = await publisher(p.url, topic)

  const ahead = () => sent - delivered / S
  function schedule() {
    if (scheduled || !running) return
    scheduled = true
    setImmediate(pump)
  }
  function pump() {
    scheduled = false
    if (!running) return
    for (let burst = 0; burst < p.burst && ahead() < p.window && sent < p.maxMessages; burst++) {
      const result = pub.publish({ seq: sent++, body })
      if (result instanceof Promise) result.catch((/** @type {unknown} */ error) => (publishError ??= error))
    }
    if (ahead() < p.window) schedule()
  }
  function onMessage() {
    delivered++
    if (ahead() < p.window / 2) schedule()
  }

  running = true
  schedule()
  await sleep(p.warmupMs)
  const d0 = delivered
  const t1 = now()
  await sleep(p.measureMs)
  const d1 = delivered
  const t2 = now()
  running = false
  if (publishError !== undefined) throw publishError
  if (d1 === d0) throw new Error('no message was delivered in the measured window')
  await pub.close()
  await Promise.all(subs.map((s) => s.close()))
  return { deliveredPerSec: ((d1 - d0) * 1000) / (t2 - t1), delivered: d1 - d0, published: sent }
}

export const drivers = {
  'rpc-throughput': rpcThroughput,
  'rpc-latency': rpcLatency,
  'idle-memory': idleMemory,
  'fan-out': fanOut,
}
