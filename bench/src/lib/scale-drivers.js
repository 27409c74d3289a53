/**
 * Load drivers of the Redis scale-out runs (scale-redis.js): the same fan-out as `fan-out`,
 * but with the subscribers spread round robin over several server processes (nodes) that
 * share one Redis, and the publisher on the first node. The runner marks the measured window
 * itself (it reads every node's CPU time and Redis's counters at the same marks), so the load
 * answers `mark` requests over IPC with its counts instead of timing the window.
 */
import { emit, nextMessage, now, sleep } from './child-io.js'
import { windowedPublisher } from './drivers.js'

/** @typedef {import('./load-main.js').LoadAdapter} LoadAdapter */
/** @typedef {Record<string, any>} Params */

/**
 * Opens `p.subscribers` subscribers of `topic`, subscriber i on node i mod n.
 * @param {NonNullable<LoadAdapter['subscribe']>} subscribe
 * @param {Params} p
 * @param {string[]} urls
 * @param {string} topic
 * @param {(data: unknown) => void} onMessage
 */
async function subscribeSpread(subscribe, p, urls, topic, onMessage) {
  /** @type {import('./load-main.js').Subscription[]} */
  const subs = []
  let next = 0
  const t0 = now()
  async function opener() {
    while (next < p.subscribers && now() - t0 < p.maxMs) {
      const i = next++
      subs.push(await subscribe(/** @type {string} */ (urls[i % urls.length]), topic, onMessage))
    }
  }
  await Promise.all(Array.from({ length: p.openConcurrency }, opener))
  if (subs.length < p.subscribers) throw new Error(`subscribed ${subs.length} of ${p.subscribers} in ${p.maxMs} ms`)
  return subs
}

/**
 * The nodes that take subscribers: the first `p.subscriberNodes` (default all). A node left
 * out holds no subscriber of the topic: what it still spends shows whether a node's cost
 * follows the channels it holds or all the traffic on Redis.
 * @param {Params} p
 */
const urlsOf = (p) => {
  const urls = /** @type {number[]} */ (p.ports).map((port) => `ws://127.0.0.1:${port}`)
  return typeof p.subscriberNodes === 'number' ? urls.slice(0, p.subscriberNodes) : urls
}

/**
 * Fan-out across nodes, paced as `fan-out` (at most `p.window` messages ahead of the average
 * subscriber). Answers each `mark` with the messages delivered and published so far and its
 * own CPU time; `stop` ends it.
 * @param {LoadAdapter} adapter
 * @param {Params} p
 */
async function scaleFanOut(adapter, p) {
  const { subscribe, publisher } = adapter
  if (subscribe === undefined || publisher === undefined) throw new Error('this system has no topics')
  const urls = urlsOf(p)
  let delivered = 0
  /** @type {ReturnType<typeof windowedPublisher> | undefined} */
  let pump
  const subs = await subscribeSpread(subscribe, p, urls, 'bench', () => {
    delivered++
    pump?.delivery()
  })
  const pub = await publisher(/** @type {string} */ (urls[0]), 'bench')
  pump = windowedPublisher(pub, p, p.subscribers, () => delivered)
  const running = pump
  const onMark = (/** @type {any} */ message) => {
    if (message?.type !== 'mark') return
    const { user, system } = process.cpuUsage()
    process.send?.({ type: 'mark', delivered, published: running.sent, cpuUs: user + system, at: now() })
  }
  process.on('message', onMark)
  running.start()
  emit({ event: 'ready' })
  await nextMessage('stop', p.maxMs)
  running.stop()
  process.off('message', onMark)
  if (running.error !== undefined) throw running.error
  await pub.close()
  await Promise.all(subs.map((s) => s.close()))
  return { published: running.sent, delivered }
}

/**
 * Publish→receive latency across nodes: one message at a time (the next once every
 * subscriber has the previous one), the time from `publish` to each subscriber's receipt
 * (every subscriber lives in this process, so one clock). p50/p99 over all deliveries, and
 * p50/p99 of the time until the last subscriber had the message.
 * @param {LoadAdapter} adapter
 * @param {Params} p
 */
async function scaleLatency(adapter, p) {
  const { subscribe, publisher } = adapter
  if (subscribe === undefined || publisher === undefined) throw new Error('this system has no topics')
  const urls = urlsOf(p)
  let got = 0
  let sentAt = 0
  /** @type {number[]} */
  const each = []
  /** @type {(() => void) | undefined} */
  let allIn
  let recording = false
  const subs = await subscribeSpread(subscribe, p, urls, 'latency', () => {
    if (recording) each.push(now() - sentAt)
    if (++got === p.subscribers) allIn?.()
  })
  const pub = await publisher(/** @type {string} */ (urls[0]), 'latency')
  /** @type {number[]} */
  const last = []
  const body = 'x'.repeat(p.bodyBytes)
  const t0 = now()
  for (let seq = 0; seq < p.warmupMessages + p.messages && now() - t0 < p.maxMs / 2; seq++) {
    recording = seq >= p.warmupMessages
    got = 0
    const done = new Promise((resolve) => (allIn = () => resolve(undefined)))
    sentAt = now()
    const result = pub.publish({ seq, body })
    if (result instanceof Promise) result.catch(() => undefined)
    const late = sleep(5_000).then(() => {
      throw new Error(`message ${seq}: ${got} of ${p.subscribers} subscribers had it after 5 s`)
    })
    await Promise.race([done, late])
    if (recording) last.push(now() - sentAt)
  }
  await pub.close()
  await Promise.all(subs.map((s) => s.close()))
  if (last.length === 0) throw new Error('no message was measured')
  const at = (/** @type {number[]} */ values, /** @type {number} */ q) => {
    const sorted = [...values].sort((a, b) => a - b)
    return Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 1000)
  }
  return { p50Us: at(each, 0.5), p99Us: at(each, 0.99), lastP50Us: at(last, 0.5), lastP99Us: at(last, 0.99), messages: last.length }
}

export const scaleDrivers = { 'scale-fan-out': scaleFanOut, 'scale-latency': scaleLatency }
