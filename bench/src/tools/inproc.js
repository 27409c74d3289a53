/**
 * An A/B tool for changes to the hot paths: server and clients in ONE process, over real
 * loopback sockets, rounds alternating between systems. In one process there are no
 * cross-process wake-ups (on a VM each costs as much as a batch of calls), so CPU time per
 * operation is both sides' code and syscalls, and moves far less between runs than the
 * bench's rates. It is not a benchmark of record (that is `npm run bench`): it answers "did
 * this change make a call, or an event, cheaper?".
 *
 * Usage: node src/tools/inproc.js [--scenario rpc|fan-out] [--encoding json|msgpack]
 *   [--rounds 9] [--ops 100000] [--systems patchbay,server,client,pbwire,pbwire-preframed,raw,preframed]
 * rpc: 64 calls of add in flight on one socket, `ops` calls. fan-out: one publisher and
 * `--subscribers` (50) on one topic, ~100-byte messages, the publisher at most 64 messages
 * ahead, until `ops` deliveries.
 * Prints, per system, the median CPU µs per operation (user + system) and operations/s, and,
 * against the first system, the median of each round's ratio and CPU difference.
 */
import { parseArgs } from 'node:util'
import { patchbayAdapter } from '../lib/patchbay-client.js'
import { startPatchbay } from '../lib/patchbay-server.js'
import { rawWsAdapter } from '../lib/raw-ws-client.js'
import { startRawWs } from '../lib/raw-ws-server.js'
import { subscribeAll, windowedPublisher } from '../lib/drivers.js'
import { median, pairedMedian } from '../lib/stats.js'

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'rpc' },
    encoding: { type: 'string', default: 'msgpack' },
    rounds: { type: 'string', default: '9' },
    ops: { type: 'string', default: '100000' },
    systems: { type: 'string', default: 'patchbay,pbwire,raw' },
    'in-flight': { type: 'string', default: '64' },
    subscribers: { type: 'string', default: '50' },
  },
})
const scenario = values.scenario
if (scenario !== 'rpc' && scenario !== 'fan-out') throw new Error('--scenario is rpc or fan-out')
const encoding = /** @type {'json' | 'msgpack'} */ (values.encoding)
if (encoding !== 'json' && encoding !== 'msgpack') throw new Error('--encoding is json or msgpack')
const rounds = Number(values.rounds)
const ops = Number(values.ops)
const inFlight = Number(values['in-flight'])
const subscribers = Number(values.subscribers)

// The two halves of "patchbay" and "pbwire" speak the same subprotocol, so they mix:
// "server" is Patchbay's server with the pbwire client, "client" the reverse. Their gaps to
// "pbwire" split Patchbay's cost between the sides.
const pbServer = () => startPatchbay(encoding, {})
const pbwireServer = () => startRawWs(encoding, true, 'patchbay', {})
const pbClient = patchbayAdapter(encoding)
const pbwireClient = rawWsAdapter(encoding, true, 'patchbay')
/** @type {Record<string, () => Promise<{ port: number, close: () => Promise<unknown> }>>} */
const servers = {
  patchbay: pbServer,
  server: pbServer,
  client: pbwireServer,
  pbwire: pbwireServer,
  raw: () => startRawWs(encoding, true, 'raw', {}),
  preframed: () => startRawWs(encoding, 'preframed', 'raw', {}),
  // pbwire's server with each event framed once: the pbwire client loads it, and Patchbay's.
  'pbwire-preframed': () => startRawWs(encoding, 'preframed', 'patchbay', {}),
}
/** @type {Record<string, import('../lib/load-main.js').LoadAdapter>} */
const adapters = {
  patchbay: pbClient,
  server: pbwireClient,
  client: pbClient,
  pbwire: pbwireClient,
  raw: rawWsAdapter(encoding, true, 'raw'),
  preframed: rawWsAdapter(encoding, true, 'raw'),
  'pbwire-preframed': pbwireClient,
}
const systems = /** @type {string} */ (values.systems).split(',')
for (const name of systems) if (servers[name] === undefined) throw new Error(`unknown system ${name}`)

/** @typedef {{ cpuPerOp: number, opsPerSec: number }} Round */

/**
 * Measures `run` (which does `ops` operations) after a warmup of as many, so the optimizing
 * compiler has run before the clock starts.
 * @param {() => Promise<void>} run
 * @returns {Promise<Round>}
 */
async function measure(run) {
  await run()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await run()
  const t1 = performance.now()
  const cpu = process.cpuUsage(cpu0)
  return { cpuPerOp: (cpu.user + cpu.system) / ops, opsPerSec: (ops * 1000) / (t1 - t0) }
}

/**
 * `ops` calls of add with `inFlight` outstanding.
 * @param {import('../lib/load-main.js').LoadAdapter} adapter
 * @param {string} url
 */
async function rpcRound(adapter, url) {
  const client = await adapter.connect(url)
  let started = 0
  /** @param {number} seed */
  const worker = async (seed) => {
    while (started < ops) {
      started++
      const got = await client.add(seed, 1)
      if (got !== seed + 1) throw new Error(`add answered ${String(got)}`)
    }
  }
  const result = await measure(async () => {
    started = 0
    await Promise.all(Array.from({ length: inFlight }, (_, i) => worker(i)))
  })
  await client.close()
  return result
}

/**
 * One publisher, `subscribers` subscribers, until `ops` deliveries (summed over subscribers).
 * @param {import('../lib/load-main.js').LoadAdapter} adapter
 * @param {string} url
 */
async function fanOutRound(adapter, url) {
  if (adapter.subscribe === undefined || adapter.publisher === undefined) throw new Error('no topics')
  const p = { url, subscribers, maxMs: 30_000, openConcurrency: 50, bodyBytes: 80, window: 64, burst: 16, maxMessages: Infinity }
  let delivered = 0
  /** @type {(() => void) | undefined} */
  let onDelivery
  const subs = await subscribeAll(adapter.subscribe, /** @type {any} */ (p), 'bench', () => {
    delivered++
    onDelivery?.()
  })
  const pub = await adapter.publisher(url, 'bench')
  const result = await measure(
    () =>
      new Promise((resolve, reject) => {
        const start = delivered
        const pump = windowedPublisher(pub, /** @type {any} */ (p), subscribers, () => delivered)
        onDelivery = () => {
          pump.delivery()
          if (delivered - start < ops) return
          pump.stop()
          onDelivery = undefined
          // Let the window in flight arrive before the next part starts counting.
          setTimeout(() => (pump.error === undefined ? resolve(undefined) : reject(pump.error)), 50)
        }
        pump.start()
      }),
  )
  await pub.close()
  await Promise.all(subs.map((sub) => sub.close()))
  return result
}

/** @param {string} name */
async function round(name) {
  const server = await /** @type {() => Promise<{ port: number, close: () => Promise<unknown> }>} */ (servers[name])()
  const adapter = /** @type {import('../lib/load-main.js').LoadAdapter} */ (adapters[name])
  const url = `ws://127.0.0.1:${server.port}`
  const result = scenario === 'rpc' ? await rpcRound(adapter, url) : await fanOutRound(adapter, url)
  await server.close()
  return result
}

/** @type {Record<string, Round[]>} */
const results = Object.fromEntries(systems.map((name) => [name, []]))
for (let r = 0; r < rounds; r++) {
  for (const name of systems) results[name]?.push(await round(name))
  process.stderr.write('.')
}
process.stderr.write('\n')
// Ratios and differences to the first system are paired medians (lib/stats.js).
const first = /** @type {string} */ (systems[0])
const firstRuns = results[first] ?? []
const what = scenario === 'rpc' ? `${ops} calls, ${inFlight} in flight` : `${ops} deliveries to ${subscribers} subscribers`
console.log(`${scenario} ${encoding}, ${what}, ${rounds} rounds, one process; medians`)
console.log('system             CPU µs/op      ×    Δ µs/op     ops/s        ×')
for (const name of systems) {
  const runs = results[name] ?? []
  const cpu = median(runs.map((x) => x.cpuPerOp))
  const rate = median(runs.map((x) => x.opsPerSec))
  const cpuRatio = pairedMedian(runs, firstRuns, (x, y) => x.cpuPerOp / y.cpuPerOp)
  const cpuDelta = pairedMedian(runs, firstRuns, (x, y) => x.cpuPerOp - y.cpuPerOp)
  const rateRatio = pairedMedian(runs, firstRuns, (x, y) => x.opsPerSec / y.opsPerSec)
  console.log(
    `${name.padEnd(16)} ${cpu.toFixed(3).padStart(11)} ${cpuRatio.toFixed(2).padStart(6)} ${cpuDelta.toFixed(3).padStart(10)} ${Math.round(rate).toLocaleString('en-US').padStart(9)} ${rateRatio.toFixed(2).padStart(8)}`,
  )
}
