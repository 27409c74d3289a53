/**
 * An A/B tool for changes to the RPC hot path: server and client in ONE process, over a real
 * loopback socket, 64 calls in flight, rounds alternating between systems. In one process
 * there are no cross-process wake-ups (on a VM each costs as much as a batch of calls), so
 * CPU time per call is both sides' code and syscalls, and moves far less between runs than
 * rpc-throughput's calls/s. It is not a benchmark of record (that is `npm run bench`): it
 * answers "did this change make a call cheaper?".
 *
 * Usage: node src/tools/inproc-rpc.js [--encoding json|msgpack] [--rounds 9] [--calls 100000]
 *   [--systems patchbay,server,client,pbwire,raw]
 * Prints, per system, the median CPU µs per call (user + system) and calls/s, and, against the
 * first system, the median of each round's ratio and CPU difference.
 */
import { parseArgs } from 'node:util'
import { patchbayAdapter } from '../lib/patchbay-client.js'
import { startPatchbay } from '../lib/patchbay-server.js'
import { rawWsAdapter } from '../lib/raw-ws-client.js'
import { startRawWs } from '../lib/raw-ws-server.js'
import { median } from '../lib/stats.js'

const { values } = parseArgs({
  options: {
    encoding: { type: 'string', default: 'msgpack' },
    rounds: { type: 'string', default: '9' },
    calls: { type: 'string', default: '100000' },
    systems: { type: 'string', default: 'patchbay,pbwire,raw' },
    'in-flight': { type: 'string', default: '64' },
  },
})
const encoding = /** @type {'json' | 'msgpack'} */ (values.encoding)
if (encoding !== 'json' && encoding !== 'msgpack') throw new Error('--encoding is json or msgpack')
const rounds = Number(values.rounds)
const calls = Number(values.calls)
const inFlight = Number(values['in-flight'])

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
}
/** @type {Record<string, import('../lib/load-main.js').LoadAdapter>} */
const adapters = {
  patchbay: pbClient,
  server: pbwireClient,
  client: pbClient,
  pbwire: pbwireClient,
  raw: rawWsAdapter(encoding, true, 'raw'),
}
const systems = /** @type {string} */ (values.systems).split(',')
for (const name of systems) if (servers[name] === undefined) throw new Error(`unknown system ${name}`)

/**
 * `calls` calls of add with `inFlight` outstanding; CPU µs per call and calls/s.
 * @param {string} name
 */
async function round(name) {
  const server = await /** @type {() => Promise<{ port: number, close: () => Promise<unknown> }>} */ (servers[name])()
  const client = await /** @type {import('../lib/load-main.js').LoadAdapter} */ (adapters[name]).connect(`ws://127.0.0.1:${server.port}`)
  let started = 0
  /** @param {number} seed */
  const worker = async (seed) => {
    while (started < calls) {
      started++
      const got = await client.add(seed, 1)
      if (got !== seed + 1) throw new Error(`add answered ${String(got)}`)
    }
  }
  // A warmup of as many calls, so the optimizing compiler has run before the clock starts.
  await Promise.all(Array.from({ length: inFlight }, (_, i) => worker(i)))
  started = 0
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await Promise.all(Array.from({ length: inFlight }, (_, i) => worker(i)))
  const t1 = performance.now()
  const cpu = process.cpuUsage(cpu0)
  await client.close()
  await server.close()
  return { cpuPerCall: (cpu.user + cpu.system) / calls, callsPerSec: (calls * 1000) / (t1 - t0) }
}

/** @type {Record<string, { cpuPerCall: number, callsPerSec: number }[]>} */
const results = Object.fromEntries(systems.map((name) => [name, []]))
for (let r = 0; r < rounds; r++) {
  for (const name of systems) results[name]?.push(await round(name))
  process.stderr.write('.')
}
process.stderr.write('\n')
// Ratios are medians of each round's ratio to the first system's in the same round, so a
// machine that slows down for a while moves both sides of a ratio alike.
const first = /** @type {string} */ (systems[0])
const firstRuns = results[first] ?? []
console.log(`${encoding}, ${calls} calls × ${rounds} rounds, ${inFlight} in flight, one process; medians`)
console.log('system     CPU µs/call      ×  Δ µs/call   calls/s        ×')
for (const name of systems) {
  const runs = results[name] ?? []
  const cpu = median(runs.map((x) => x.cpuPerCall))
  const rate = median(runs.map((x) => x.callsPerSec))
  const cpuRatio = median(runs.map((x, i) => x.cpuPerCall / (firstRuns[i]?.cpuPerCall ?? NaN)))
  const cpuDelta = median(runs.map((x, i) => x.cpuPerCall - (firstRuns[i]?.cpuPerCall ?? NaN)))
  const rateRatio = median(runs.map((x, i) => x.callsPerSec / (firstRuns[i]?.callsPerSec ?? NaN)))
  console.log(
    `${name.padEnd(10)} ${cpu.toFixed(3).padStart(11)} ${cpuRatio.toFixed(2).padStart(6)} ${cpuDelta.toFixed(3).padStart(10)} ${Math.round(rate).toLocaleString('en-US').padStart(9)} ${rateRatio.toFixed(2).padStart(8)}`,
  )
}
