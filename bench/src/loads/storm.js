/**
 * The load of the resume storm (scale-storm.js): `clients` subscribers, through the
 * runner's TCP proxy (one URL, as behind a load balancer), each on one of `channels`
 * channels, and `publishers` publishers connected straight to node B, publishing
 * `ratePerChannel` messages per second on every channel. Each payload carries the channel's
 * publish counter (`seq`) and the publish time (`body` starts with Date.now()), so every
 * subscriber checks its own stream: a counter that jumps is a gap (messages missed), one
 * that goes back is a duplicate.
 *
 * Steps, driven by the runner over IPC: `ready` once every subscriber has had a message;
 * `killed` (the runner SIGKILLed node A and pointed the proxy at node B) starts the clock;
 * `caught-up` once every subscriber has had a message published after the kill (or the
 * time cap), with each one's delay; `stop` ends publishing, waits for every subscriber to
 * reach the channel's last counter (bounded), and prints the result.
 */
import { emit, hardCap, nextMessage, readParams, sleep } from '../lib/child-io.js'
import { patchbayStorm, socketIoStorm } from '../lib/storm-clients.js'

const p = readParams()
hardCap(p.capMs ?? 120_000, 'storm load')

/**
 * @typedef {object} Sub
 * @property {number} channel index
 * @property {number} last last counter seen (0: none yet)
 * @property {number} received
 * @property {number} gaps counter jumps
 * @property {number} missed messages skipped by those jumps
 * @property {number} duplicates counters seen again (or going back)
 * @property {number} lags lag notices from the client (Patchbay)
 * @property {number | undefined} caughtAt Date.now() of the first message published after the kill
 * @property {number} lossAtCatchUp messages missed by then
 * @property {import('../lib/storm-clients.js').StormSubscriber | undefined} handle
 */

try {
  const adapter = p.system === 'patchbay' ? patchbayStorm() : socketIoStorm(p.fastRetry === true ? { reconnectionDelay: 150, randomizationFactor: 2 / 3 } : undefined)
  const proxyUrl = `ws://127.0.0.1:${p.proxyPort}`
  const publishUrl = `ws://127.0.0.1:${p.publishPort}`
  const body = (/** @type {number} */ at) => `${at}:`.padEnd(p.bodyBytes, 'x')
  let killAt = Infinity
  let caught = 0
  /** @type {(() => void) | undefined} */
  let allCaught

  /** @type {Sub[]} */
  const subs = Array.from({ length: p.clients }, (_, i) => ({ channel: i % p.channels, last: 0, received: 0, gaps: 0, missed: 0, duplicates: 0, lags: 0, caughtAt: undefined, lossAtCatchUp: 0, handle: undefined }))
  const onMessage = (/** @type {Sub} */ sub, /** @type {import('../lib/storm-clients.js').Payload} */ payload) => {
    sub.received++
    const counter = payload.seq
    if (sub.last > 0 && counter <= sub.last) sub.duplicates++
    else {
      if (sub.last > 0 && counter > sub.last + 1) {
        sub.gaps++
        sub.missed += counter - sub.last - 1
      }
      sub.last = counter
    }
    if (sub.caughtAt === undefined && Number.parseInt(payload.body, 10) > killAt) {
      sub.caughtAt = Date.now()
      sub.lossAtCatchUp = sub.missed
      if (++caught === subs.length) allCaught?.()
    }
  }

  // Subscribers, `openConcurrency` at a time, bounded in time.
  const t0 = Date.now()
  let next = 0
  const opener = async () => {
    while (next < subs.length && Date.now() - t0 < p.openMs) {
      const sub = /** @type {Sub} */ (subs[next++])
      sub.handle = await adapter.subscribe(proxyUrl, `ch${sub.channel}`, (payload) => onMessage(sub, payload), () => sub.lags++)
    }
  }
  await Promise.all(Array.from({ length: p.openConcurrency }, opener))
  if (subs.some((s) => s.handle === undefined)) throw new Error(`subscribed ${subs.filter((s) => s.handle).length} of ${subs.length} in ${p.openMs} ms`)

  // Publishers on node B, each with its share of the channels, paced per tick.
  const publishers = await Promise.all(Array.from({ length: p.publishers }, () => adapter.publisher(publishUrl)))
  const sent = new Array(p.channels).fill(0)
  let pubFailures = 0
  /** @type {Set<Promise<unknown>>} */
  const pending = new Set()
  const started = Date.now()
  let publishing = true
  const tick = () => {
    if (!publishing) return
    const due = Math.floor(((Date.now() - started) / 1000) * p.ratePerChannel)
    const at = Date.now()
    for (let ch = 0; ch < p.channels; ch++) {
      const pub = /** @type {(typeof publishers)[number]} */ (publishers[ch % publishers.length])
      // At most a few per tick, so a stalled timer does not turn into a burst.
      for (let n = 0; sent[ch] < due && n < 4; n++) {
        const result = pub.publish(`ch${ch}`, { seq: ++sent[ch], body: body(at) })
        if (result instanceof Promise) {
          pending.add(result)
          result.then(
            () => pending.delete(result),
            () => {
              pubFailures++
              pending.delete(result)
            },
          )
        }
      }
    }
    setTimeout(tick, p.tickMs)
  }
  tick()

  // Ready once every subscriber has had a message (bounded).
  const warmDeadline = Date.now() + p.warmMs
  while (subs.some((s) => s.received === 0) && Date.now() < warmDeadline) await sleep(20)
  if (subs.some((s) => s.received === 0)) throw new Error(`${subs.filter((s) => s.received === 0).length} subscribers had no message after ${p.warmMs} ms`)
  emit({ event: 'ready', clients: subs.length })

  const killed = await nextMessage('killed', p.capMs)
  if (killed === undefined) throw new Error('never told of the kill')
  killAt = killed.at
  const received = subs.reduce((sum, s) => sum + s.received, 0)
  await Promise.race([new Promise((resolve) => (allCaught = () => resolve(undefined))), sleep(p.catchUpMs)])
  const delays = subs.map((s) => (s.caughtAt === undefined ? Infinity : s.caughtAt - killAt)).sort((a, b) => a - b)
  emit({ event: 'caught-up', caught, clients: subs.length, lastMs: delays[delays.length - 1] })

  await nextMessage('stop', p.capMs)
  publishing = false
  await Promise.race([Promise.all(pending), sleep(5_000)])
  // Every subscriber should reach its channel's last counter (the messages in flight settle).
  const drainDeadline = Date.now() + p.drainMs
  while (subs.some((s) => s.last < (sent[s.channel] ?? 0)) && Date.now() < drainDeadline) await sleep(20)
  let tailMissing = 0
  for (const s of subs) tailMissing += Math.max(0, (sent[s.channel] ?? 0) - s.last)
  const sum = (/** @type {(s: Sub) => number} */ f) => subs.reduce((total, s) => total + f(s), 0)
  const result = {
    clients: subs.length,
    caught,
    delaysMs: delays.map((d) => (Number.isFinite(d) ? d : -1)),
    published: sent.reduce((a, b) => a + b, 0),
    pubFailures,
    receivedBeforeKill: received,
    received: sum((s) => s.received),
    gaps: sum((s) => s.gaps),
    missed: sum((s) => s.missed),
    clientsWithLoss: subs.filter((s) => s.missed > 0 || s.last < (sent[s.channel] ?? 0)).length,
    missedAtCatchUp: sum((s) => s.lossAtCatchUp),
    duplicates: sum((s) => s.duplicates),
    lags: sum((s) => s.lags),
    tailMissing,
    reconnects: sum((s) => s.handle?.reconnects() ?? 0),
    recovered: sum((s) => s.handle?.recovered() ?? 0),
  }
  for (const pub of publishers) pub.close()
  for (const s of subs) s.handle?.close()
  emit({ event: 'result', ...result })
  process.exit(0)
} catch (error) {
  emit({ event: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) })
  process.exit(1)
}
