/**
 * The load drivers, one per scenario. Each gets a system's adapter and the scenario's
 * parameters and resolves with its figures. Every loop is bounded by a count and a time.
 */
import { emit, nextMessage, now, sleep } from './child-io.js'

/** @typedef {import('./load-main.js').LoadAdapter} LoadAdapter */
/** @typedef {Record<string, any>} Params */

/**
 * Marks the measured window for CPU accounting: tells the runner (which then reads the
 * server's CPU time) and returns this process's CPU time so far, in µs. CPU time per
 * operation barely moves with a noisy neighbour, unlike operations per second.
 * @param {'start' | 'end'} at
 */
function cpuMark(at) {
  emit({ event: `window-${at}` })
  const { user, system } = process.cpuUsage()
  return user + system
}

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
  // Each worker adds its own sequence of numbers, so a misrouted answer shows.
  const next = Array.from({ length: p.inFlight }, (_, i) => i * 1000)
  const { calls, ms, loadCpuUs } = await measureCalls(p, async (i) => {
    const a = next[i] ?? 0
    check(await client.add(a, 1), a + 1)
    next[i] = (a + 1) & 0xffff
  }, 2_000)
  await client.close()
  return { callsPerSec: (calls * 1000) / ms, calls, ops: calls, loadCpuUs }
}

/**
 * `p.inFlight` workers, each making `call` again as soon as its last one answered, until
 * the measured window (`p.measureMs`, after `p.warmupMs`) ends or `p.maxCalls` is reached:
 * the calls completed in the window, its length and the load's CPU over it.
 * @param {Params} p
 * @param {(worker: number) => Promise<void>} call one call, its answer checked
 * @param {number} drainMs how long the calls still out after the window may take
 * @returns {Promise<{ calls: number, ms: number, loadCpuUs: number }>}
 */
async function measureCalls(p, call, drainMs) {
  let running = true
  let completed = 0
  /** @param {number} i */
  async function worker(i) {
    while (running && completed < p.maxCalls) {
      await call(i)
      completed++
    }
  }
  const workers = Array.from({ length: p.inFlight }, (_, i) => worker(i))
  const failed = Promise.all(workers).then(() => {
    if (running) throw new Error(`the call cap of ${p.maxCalls} was reached before the window ended`)
  })
  await Promise.race([sleep(p.warmupMs), failed])
  const c0 = completed
  const t0 = now()
  const cpu0 = cpuMark('start')
  await Promise.race([sleep(p.measureMs), failed])
  const c1 = completed
  const t1 = now()
  const cpu1 = cpuMark('end')
  running = false
  if (c1 === c0) throw new Error('no call completed in the measured window')
  await Promise.race([Promise.all(workers), sleep(drainMs)])
  return { calls: c1 - c0, ms: t1 - t0, loadCpuUs: cpu1 - cpu0 }
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
 * Opens `p.subscribers` subscribers of `topic`, `p.openConcurrency` at a time.
 * @param {NonNullable<LoadAdapter['subscribe']>} subscribe
 * @param {Params} p
 * @param {string} topic
 * @param {(data: unknown) => void} onMessage
 */
export async function subscribeAll(subscribe, p, topic, onMessage) {
  /** @type {import('./load-main.js').Subscription[]} */
  const subs = []
  let next = 0
  const t0 = now()
  async function opener() {
    while (next < p.subscribers && now() - t0 < p.maxMs) {
      next++
      subs.push(await subscribe(p.url, topic, onMessage))
    }
  }
  await Promise.all(Array.from({ length: p.openConcurrency }, opener))
  if (subs.length < p.subscribers) throw new Error(`subscribed ${subs.length} of ${p.subscribers} in ${p.maxMs} ms`)
  return subs
}

/**
 * Publishes `{seq, body}` messages while it stays at most `p.window` messages ahead of the
 * average of `subscribers` (delivered() counts what they received, summed), in bursts of
 * at most `p.burst` per macrotask, up to `p.maxMessages`.
 * @param {import('./load-main.js').Publisher} pub
 * @param {Params} p
 * @param {number} subscribers
 * @param {() => number} delivered
 */
export function windowedPublisher(pub, p, subscribers, delivered) {
  const body = 'x'.repeat(p.bodyBytes)
  let sent = 0
  let running = false
  let scheduled = false
  /** @type {unknown} */
  let error
  const ahead = () => sent - delivered() / subscribers
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
      if (result instanceof Promise) result.catch((/** @type {unknown} */ failure) => (error ??= failure))
    }
    if (ahead() < p.window) schedule()
  }
  return {
    start() {
      running = true
      schedule()
    },
    stop() {
      running = false
    },
    /** Call on every delivery: the pump resumes once subscribers caught up half a window. */
    delivery() {
      if (ahead() < p.window / 2) schedule()
    },
    get sent() {
      return sent
    },
    get error() {
      return error
    },
  }
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
  const topic = 'bench'
  let delivered = 0
  /** @type {ReturnType<typeof windowedPublisher> | undefined} */
  let pump
  const subs = await subscribeAll(subscribe, p, topic, () => {
    delivered++
    pump?.delivery()
  })
  const pub = await publisher(p.url, topic)
  pump = windowedPublisher(pub, p, p.subscribers, () => delivered)

  pump.start()
  await sleep(p.warmupMs)
  const d0 = delivered
  const t1 = now()
  const cpu0 = cpuMark('start')
  await sleep(p.measureMs)
  const d1 = delivered
  const t2 = now()
  const cpu1 = cpuMark('end')
  pump.stop()
  if (pump.error !== undefined) throw pump.error
  if (d1 === d0) throw new Error('no message was delivered in the measured window')
  await pub.close()
  await Promise.all(subs.map((s) => s.close()))
  return { deliveredPerSec: ((d1 - d0) * 1000) / (t2 - t1), delivered: d1 - d0, published: pump.sent, ops: d1 - d0, loadCpuUs: cpu1 - cpu0 }
}

/**
 * fan-out with one more subscriber that stops reading once subscribed. The publisher paces
 * itself on the fast subscribers only (the stalled one receives nothing it could count).
 * The runner measures the server between the steps, over IPC:
 * `ready` (everyone subscribed) → runner: `go` → publish for warmup + measure, or until
 * runner: `stop` (the server passed the RSS cap) → `published` → runner: `finish` → the
 * stalled socket reads again: what the server had kept for it, and whether it closed it.
 * @param {LoadAdapter} adapter
 * @param {Params} p
 */
async function slowConsumer(adapter, p) {
  const { subscribe, publisher, stall } = adapter
  if (subscribe === undefined || publisher === undefined || stall === undefined) throw new Error('this system has no stalled subscriber')
  const topic = 'bench'
  let delivered = 0
  /** @type {ReturnType<typeof windowedPublisher> | undefined} */
  let pump
  const subs = await subscribeAll(subscribe, p, topic, () => {
    delivered++
    pump?.delivery()
  })
  const stalled = await stall(p.url, topic)
  const pub = await publisher(p.url, topic)
  pump = windowedPublisher(pub, p, p.subscribers, () => delivered)

  emit({ event: 'ready', subscribers: subs.length })
  if ((await nextMessage('go', p.maxMs)) === undefined) throw new Error(`no "go" from the runner within ${p.maxMs} ms`)
  let stoppedEarly = 0
  const capped = nextMessage('stop', p.warmupMs + p.measureMs + 5_000).then((message) => {
    if (message !== undefined) stoppedEarly = 1
  })
  const stopped = () => stoppedEarly === 1
  const t0 = now()
  pump.start()
  await Promise.race([sleep(p.warmupMs), capped])
  const d0 = delivered
  const t1 = now()
  if (!stopped()) await Promise.race([sleep(p.measureMs), capped])
  const d1 = delivered
  const t2 = now()
  pump.stop()
  const publishMs = t2 - t0
  if (pump.error !== undefined) throw pump.error
  if (!stopped() && d1 === d0) throw new Error('no message was delivered in the measured window')

  emit({ event: 'published' })
  if ((await nextMessage('finish', 30_000)) === undefined) throw new Error('no "finish" from the runner within 30 s')
  const backlog = await stalled.probe(pump.sent, p.probeMs)
  stalled.close()
  await pub.close()
  await Promise.all(subs.map((s) => s.close()))
  return {
    // A run stopped during warmup has no measured window: its rate covers all of it.
    deliveredPerSec: t2 > t1 && d1 > d0 ? ((d1 - d0) * 1000) / (t2 - t1) : (d1 * 1000) / publishMs,
    delivered: d1 - d0,
    published: pump.sent,
    publishMs,
    stoppedEarly,
    stalledClose: backlog.code,
    stalledBacklogBytes: backlog.bytes,
    stalledBacklogMessages: backlog.messages,
    stalledKeptShare: pump.sent > 0 ? backlog.messages / pump.sent : 0,
    stalledBacklogComplete: backlog.complete,
  }
}

/**
 * Reads one stream for warmup + measure and counts the items of the measured window; every
 * item must be the next `n`.
 * @param {import('./load-main.js').StreamClient} client
 * @param {Params} p
 * @param {number | undefined} credit
 */
async function measureStream(client, p, credit) {
  let received = 0
  let open = true
  /** @type {Error | undefined} */
  let failure
  const stream = client.open(credit === undefined ? { count: p.maxItems } : { count: p.maxItems, credit }, (item) => {
    if (!open) return
    if (item?.n !== received && failure === undefined) failure = new Error(`item ${JSON.stringify(item)} arrived, expected n = ${received}`)
    received++
  })
  const ended = stream.ended.then(() => {
    if (open) throw new Error(`the stream ended after ${received} items, before the window did`)
  })
  ended.catch(() => {})
  await Promise.race([sleep(p.warmupMs), ended])
  const c0 = received
  const t0 = now()
  await Promise.race([sleep(p.measureMs), ended])
  const c1 = received
  const t1 = now()
  open = false
  stream.stop()
  if (failure !== undefined) throw failure
  if (c1 === c0) throw new Error('no item arrived in the measured window')
  return { itemsPerSec: ((c1 - c0) * 1000) / (t1 - t0), items: c1 - c0 }
}

/**
 * One socket, one server-to-client stream of `{n, ts}` items: items/s received. A system
 * with credit-based flow control (Patchbay) is measured twice on the same socket: with its
 * default credit, then with `wideCredit`.
 * @param {LoadAdapter} adapter
 * @param {Params} p
 */
async function streamThroughput(adapter, p) {
  if (adapter.streams === undefined) throw new Error('this system has no streams')
  const client = await adapter.streams(p.url)
  /** @type {Record<string, number>} */
  const result = {}
  const first = await measureStream(client, p, undefined)
  result.itemsPerSec = first.itemsPerSec
  result.items = first.items
  if (client.credit) {
    const wide = await measureStream(client, p, p.wideCredit)
    result.itemsPerSecWide = wide.itemsPerSec
    result.itemsWide = wide.items
  }
  await client.close()
  return result
}

/**
 * Subscribers only, for fan-out with its subscribers spread over several load processes
 * (`BENCH_FANOUT_LOADS`): opens `p.subscribers` subscribers of the fan-out's topic, says
 * `ready`, answers each `mark` request with what they received so far and this process's
 * CPU time, and closes them on `stop`. The main load publishes, paced on its own share
 * (every subscriber receives the same stream, so its share's average stands for all).
 * @param {LoadAdapter} adapter
 * @param {Params} p
 */
async function fanOutSubscribers(adapter, p) {
  const subscribe = adapter.subscribe
  if (subscribe === undefined) throw new Error('this system has no topics')
  let delivered = 0
  const subs = await subscribeAll(subscribe, p, 'bench', () => {
    delivered++
  })
  const onMark = (/** @type {any} */ message) => {
    // `progress`: the runner relays what this process received to the main load (relaySides).
    if (message?.type === 'progress') process.send?.({ type: 'progress', delivered })
    if (message?.type !== 'mark') return
    const { user, system } = process.cpuUsage()
    process.send?.({ type: 'mark', delivered, cpuUs: user + system })
  }
  process.on('message', onMark)
  emit({ event: 'ready' })
  // Held until the main load is done: its own steps can take longer than fan-out's window
  // (latency-under-load), so the wait is bounded by this process's own time cap.
  await nextMessage('stop', p.capMs ?? p.maxMs + p.warmupMs + p.measureMs)
  process.off('message', onMark)
  await Promise.all(subs.map((s) => s.close()))
  return { delivered }
}

/**
 * The payload of large-messages: a string of `bytes` ASCII characters for JSON systems, a
 * Uint8Array of `bytes` bytes for msgpack ones (bin on the wire). The bytes are a fixed
 * pseudo-random sequence (incompressible, every byte value present), the same every run.
 * @param {number} bytes
 * @param {boolean} binary
 */
function largePayload(bytes, binary) {
  const data = new Uint8Array(bytes)
  let x = 0x9e3779b9
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    data[i] = x & 0xff
  }
  if (binary) return data
  // Printable ASCII (32–126), none that JSON escapes: the string's length is its byte count.
  let text = ''
  const chunk = 8192
  for (let at = 0; at < bytes; at += chunk) {
    text += String.fromCharCode(...data.subarray(at, Math.min(bytes, at + chunk)).map((b) => 35 + (b % 57)))
  }
  return text
}

/**
 * Checks an echoed payload: same kind (a msgpack system must hand back a Uint8Array, never a
 * string such as base64), same length, same bytes at a few places (a full comparison of
 * 1 MiB per call would be a good part of the load's CPU).
 * @param {unknown} got
 * @param {string | Uint8Array} sent
 */
function checkEcho(got, sent) {
  if (typeof sent === 'string') {
    if (got !== sent && (typeof got !== 'string' || got.length !== sent.length)) throw new Error(`echo answered ${typeof got} of ${String(/** @type {any} */ (got)?.length)}, expected a string of ${sent.length}`)
    return
  }
  // socket.io's msgpack parser hands bin back as an ArrayBuffer (engine.io-client's binaryType):
  // bytes all the same, looked at through a view (no copy).
  if (got instanceof ArrayBuffer) got = new Uint8Array(got)
  if (!(got instanceof Uint8Array)) throw new Error(`echo answered ${Object.prototype.toString.call(got)}, expected a Uint8Array`)
  const n = sent.byteLength
  if (got.byteLength !== n || got[0] !== sent[0] || got[n >> 1] !== sent[n >> 1] || got[n - 1] !== sent[n - 1]) {
    throw new Error(`echo answered ${got.byteLength} bytes that differ from the ${n} sent`)
  }
}

/**
 * large-messages: one socket, `inFlight` echo calls of the payload always outstanding;
 * payload MiB moved per second (out and back) in the measured window, and CPU per MiB.
 * @param {LoadAdapter} adapter
 * @param {Params} p
 */
async function largeMessages(adapter, p) {
  const client = await adapter.connect(p.url)
  const echo = client.echo
  if (echo === undefined) throw new Error('this system has no echo call')
  const payload = largePayload(p.payloadBytes, p.encoding === 'msgpack')
  const { calls, ms, loadCpuUs } = await measureCalls(p, async () => {
    checkEcho(await /** @type {NonNullable<typeof echo>} */ (echo)(payload), payload)
  }, 5_000)
  await client.close()
  const mib = (calls * 2 * p.payloadBytes) / 1_048_576
  return { mibPerSec: (mib * 1000) / ms, callsPerSec: (calls * 1000) / ms, calls, ops: mib, loadCpuUs }
}

/**
 * Percentiles of a sample in ms, as µs.
 * @param {Float64Array} samples
 * @param {number} n
 */
function percentilesUs(samples, n) {
  const sorted = samples.subarray(0, n).sort()
  const at = (/** @type {number} */ q) => (sorted[Math.min(n - 1, Math.floor(q * n))] ?? NaN) * 1000
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999) }
}

/**
 * One call in flight for `ms`, a new one every `everyMs` (or as soon as the last one is
 * back, if it took longer): the round trips in ms.
 * @param {import('./load-main.js').RpcClient} client
 * @param {number} ms
 * @param {number} everyMs
 */
async function timedCalls(client, ms, everyMs) {
  const samples = new Float64Array(Math.ceil(ms / everyMs) + 1)
  const start = now()
  let n = 0
  while (n < samples.length && now() - start < ms) {
    const t0 = now()
    check(await client.add(n, 5), n + 5)
    const t1 = now()
    samples[n++] = t1 - t0
    const wait = start + n * everyMs - t1
    if (wait > 0) await sleep(wait)
  }
  if (n === 0) throw new Error('no call completed in time')
  return { samples, n }
}

/**
 * latency-under-load's caller, a process of its own (the `latency-caller` scenario): one
 * socket, connected before it says `ready`. On each `calls` request (`ms`, `everyMs`), which
 * the runner relays from the main load, it makes timedCalls and answers `calls` with their
 * percentiles; on `stop` it closes. Alone in its process, a call's round trip is the server's
 * and the network's, not the wait behind thousands of subscribers' event frames in a load
 * process's receive queue (which is what it measured when it shared the main load).
 * @param {LoadAdapter} adapter
 * @param {Params} p
 */
async function latencyCaller(adapter, p) {
  const client = await adapter.connect(p.url)
  let calls = 0
  /** @type {Promise<void>} one request at a time: the next waits for the one before */
  let last = Promise.resolve()
  const onCalls = (/** @type {any} */ message) => {
    if (message?.type !== 'calls') return
    last = last.then(async () => {
      try {
        const { samples, n } = await timedCalls(client, message.ms, message.everyMs)
        calls += n
        const us = percentilesUs(samples, n)
        process.send?.({ type: 'calls', p50Us: us.p50, p99Us: us.p99, p999Us: us.p999, calls: n })
      } catch (error) {
        process.send?.({ type: 'calls', error: error instanceof Error ? error.message : String(error) })
      }
    })
  }
  process.on('message', onCalls)
  emit({ event: 'ready' })
  await nextMessage('stop', p.capMs ?? p.maxMs)
  process.off('message', onCalls)
  await last
  await client.close()
  return { calls }
}

/**
 * @typedef {{ p50Us: number, p99Us: number, p999Us: number, calls: number }} CallerReply
 *   the caller's percentiles of one batch of calls
 */

/**
 * Calls made by the caller process (latencyCaller), through the runner: its percentiles.
 * @param {number} ms
 * @param {number} everyMs
 * @returns {Promise<CallerReply>}
 */
async function remoteCalls(ms, everyMs) {
  const done = nextMessage('calls-done', ms + 30_000)
  process.send?.({ type: 'calls', ms, everyMs })
  const reply = await done
  if (reply === undefined) throw new Error(`the caller did not answer within ${ms + 30_000} ms`)
  if (reply.error !== undefined) throw new Error(`the caller failed: ${String(reply.error)}`)
  return /** @type {CallerReply} */ (reply)
}

/**
 * latency-under-load: this process holds its share of the subscribers (the others are in
 * `fan-out-subscribers` processes) and the publisher; the measured calls are made by the
 * caller, a process of its own (latencyCaller), when this one asks for them. Step 1: the
 * maximum publish rate, paced as fan-out (at most `window` messages ahead of the average
 * subscriber of all load processes). Step 2: calls with nothing published. Step 3:
 * publishing at `loadSharePercent` of step 1's rate, on a clock (not paced by deliveries),
 * and calls, one every `callEveryMs`, one in flight; the measured window for CPU is the
 * calls' window.
 * @param {LoadAdapter} adapter
 * @param {Params} p
 */
async function latencyUnderLoad(adapter, p) {
  const subscribe = adapter.subscribe
  const publisher = adapter.publisher
  if (subscribe === undefined || publisher === undefined) throw new Error('this system has no topics')
  let delivered = 0
  // What the other load processes received, as the runner last relayed it (every 20 ms).
  let sides = 0
  const all = () => delivered + sides
  /** @type {ReturnType<typeof windowedPublisher> | undefined} */
  let pump
  const subs = await subscribeAll(subscribe, p, 'bench', () => {
    delivered++
    pump?.delivery()
  })
  const onSides = (/** @type {any} */ message) => {
    if (message?.type !== 'sides') return
    sides = message.delivered
    pump?.delivery()
  }
  process.on('message', onSides)
  const pub = await publisher(p.url, 'bench')

  // Step 1: the maximum, paced on every subscriber (all load processes).
  pump = windowedPublisher(pub, p, p.totalSubscribers, all)
  pump.start()
  await sleep(p.warmupMs)
  const d0 = all()
  const t0 = now()
  await sleep(p.measureMs)
  const d1 = all()
  const t1 = now()
  pump.stop()
  if (pump.error !== undefined) throw pump.error
  if (d1 === d0) throw new Error('no message was delivered while measuring the maximum')
  const maxPublishesPerSec = ((d1 - d0) * 1000) / (t1 - t0) / p.totalSubscribers
  // Everything published has arrived (bounded) before the next step.
  const sent = pump.sent
  const drainBy = now() + 10_000
  while (all() < sent * p.totalSubscribers && now() < drainBy) await sleep(5)
  const undrained = Math.max(0, sent * p.totalSubscribers - all())
  pump = undefined
  process.off('message', onSides)

  // Step 2: calls on a quiet server.
  const idle = await remoteCalls(p.idleCallMs, p.callEveryMs)

  // Step 3: publishing on a clock at the given share of the maximum, and calls.
  const rate = (maxPublishesPerSec * p.loadSharePercent) / 100
  const body = 'x'.repeat(p.bodyBytes)
  let published = 0
  /** @type {unknown} */
  let error
  const startedAt = now()
  const clock = setInterval(() => {
    const due = Math.min(p.maxMessages, Math.floor(((now() - startedAt) * rate) / 1000))
    while (published < due) {
      const result = pub.publish({ seq: sent + published++, body })
      if (result instanceof Promise) result.catch((/** @type {unknown} */ failure) => (error ??= failure))
    }
  }, 1)
  await sleep(p.settleMs)
  const e0 = delivered
  const s0 = published
  const w0 = now()
  const cpu0 = cpuMark('start')
  const loaded = await remoteCalls(p.callMs, p.callEveryMs)
  const e1 = delivered
  const s1 = published
  const w1 = now()
  const cpu1 = cpuMark('end')
  clearInterval(clock)
  if (error !== undefined) throw error
  if (e1 === e0) throw new Error('no message was delivered while the calls were measured')
  await pub.close()
  await Promise.all(subs.map((s) => s.close()))
  return {
    p50Us: loaded.p50Us,
    p99Us: loaded.p99Us,
    p999Us: loaded.p999Us,
    calls: loaded.calls,
    idleP50Us: idle.p50Us,
    idleP99Us: idle.p99Us,
    idleCalls: idle.calls,
    maxPublishesPerSec,
    maxDeliveredPerSec: maxPublishesPerSec * p.totalSubscribers,
    undrained,
    publishesPerSec: ((s1 - s0) * 1000) / (w1 - w0),
    deliveredPerSec: ((e1 - e0) * 1000) / (w1 - w0),
    delivered: e1 - e0,
    ops: e1 - e0,
    loadCpuUs: cpu1 - cpu0,
  }
}

/**
 * connection-storm: prepares nothing, says `ready`, and on the runner's `go` starts all of
 * its `p.subscribers` clients at once, each connecting and subscribing to one topic. A
 * client whose attempt fails (a reset or a timeout: the server's accept queue overflows in
 * a storm) starts again after a random 0–`p.retryJitterMs` ms, as a reconnecting client
 * would, the same rule for every system, until `p.maxMs`. Says `storm-done` with the time
 * to the last confirmation, then holds the clients until `stop` and reports each client's
 * time (sorted), the failed attempts and this process's CPU time over the storm.
 * @param {LoadAdapter} adapter
 * @param {Params} p
 */
async function connectionStorm(adapter, p) {
  const subscribe = adapter.subscribe
  if (subscribe === undefined) throw new Error('this system has no topics')
  emit({ event: 'ready' })
  if ((await nextMessage('go', p.maxMs)) === undefined) throw new Error(`no "go" from the runner within ${p.maxMs} ms`)
  const { user: u0, system: s0 } = process.cpuUsage()
  const t0 = now()
  const times = new Float64Array(p.subscribers)
  let retries = 0
  /** @type {unknown} */
  let lastFailure
  const all = Array.from({ length: p.subscribers }, async (_, i) => {
    for (;;) {
      try {
        const sub = await subscribe(p.url, 'storm', () => {})
        times[i] = now() - t0
        return sub
      } catch (failure) {
        lastFailure = failure
        retries++
        if (now() - t0 > p.maxMs) throw failure
        await sleep(Math.random() * p.retryJitterMs)
      }
    }
  })
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not every client was in within ${p.maxMs} ms (${retries} failed attempts; the last: ${String(lastFailure)})`)), p.maxMs)
  })
  const subs = /** @type {import('./load-main.js').Subscription[]} */ (await Promise.race([Promise.all(all), timeout]))
  clearTimeout(timer)
  const allMs = now() - t0
  const { user: u1, system: s1 } = process.cpuUsage()
  emit({ event: 'storm-done', allMs })
  await nextMessage('stop', p.maxMs)
  // The sockets go with the process (closing thousands one by one on a busy machine took
  // longer than the runner waits for the result); the server is torn down next anyway.
  return { clients: subs.length, allMs, retries, times: Array.from(times).sort((a, b) => a - b), loadCpuUs: u1 + s1 - u0 - s0 }
}

export const drivers = {
  'large-messages-16k': largeMessages,
  'large-messages-1m': largeMessages,
  'latency-under-load': latencyUnderLoad,
  'latency-caller': latencyCaller,
  'connection-storm': connectionStorm,
  'fan-out-subscribers': fanOutSubscribers,
  'rpc-throughput': rpcThroughput,
  'rpc-latency': rpcLatency,
  'idle-memory': idleMemory,
  'fan-out': fanOut,
  'slow-consumer': slowConsumer,
  'stream-throughput': streamThroughput,
}
