/**
 * The resume storm on Redis: `clients` (1,000) subscribers spread over `channels` (100)
 * channels reach node A through a loopback TCP proxy (src/lib/tcp-proxy.js, in this runner:
 * one URL, as behind a load balancer); publishers on node B keep publishing on every
 * channel. The runner SIGKILLs node A, points the proxy at node B, and measures until every
 * subscriber has a message published after the kill: the time to 50/99/100% caught up, what
 * each subscriber missed or got twice (every payload carries its channel's counter), node B's
 * and redis-server's CPU and Redis's commands and bytes over the storm, and the same over a
 * steady window of publishing before it (their difference is what the storm cost).
 *
 *   node src/scale-storm.js [--quick] [--runs N] [--systems patchbay,socketio,socketio-fast,socketio-streams] [--out file]
 *
 * Systems: Patchbay with `@patchbay/redis` (topic history 100, resume from the last seq);
 * socket.io 4 with `@socket.io/redis-adapter` (no recovery: clients join their room again),
 * with socket.io-client's default reconnection delay and with Patchbay's (`socketio-fast`);
 * socket.io 4 with `@socket.io/redis-streams-adapter` and connection state recovery, when
 * installed. Each run starts fresh nodes and a fresh load; Redis is flushed between runs.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startChild } from './lib/children.js'
import { describeMachine } from './lib/machine.js'
import { redisCommand, redisServerMissing, startRedis } from './lib/redis-server.js'
import { median, pairedMedian, spread } from './lib/stats.js'
import { startTcpProxy } from './lib/tcp-proxy.js'

const SRC = dirname(fileURLToPath(import.meta.url))
const BENCH = dirname(SRC)

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: process.env.BENCH_QUICK === '1' },
    runs: { type: 'string' },
    systems: { type: 'string', default: 'patchbay,socketio,socketio-fast,socketio-streams' },
    out: { type: 'string' },
  },
})
const quick = args.quick === true
const runs = Number.parseInt(args.runs ?? process.env.BENCH_RUNS ?? (quick ? '1' : '3'), 10)
if (!(runs >= 1)) throw new Error('runs must be a positive integer')
const out = resolve(args.out ?? join(BENCH, 'results', quick ? 'storm-quick.json' : 'storm-latest.json'))

const params = {
  clients: Number(process.env.BENCH_STORM_CLIENTS ?? (quick ? 200 : 1000)),
  channels: Number(process.env.BENCH_STORM_CHANNELS ?? (quick ? 20 : 100)),
  ratePerChannel: 5,
  publishers: 4,
  history: 100,
  bodyBytes: 80,
  tickMs: 10,
  openConcurrency: 50,
  openMs: 30_000,
  warmMs: 10_000,
  steadyMs: quick ? 500 : 2_000,
  catchUpMs: 20_000,
  drainMs: 5_000,
  capMs: 90_000,
}

const streamsInstalled = await import('@socket.io/redis-streams-adapter').then(
  () => true,
  () => false,
)
/** @type {{ name: string, system: 'patchbay' | 'socketio', server: string, serverParams: Record<string, unknown>, loadParams?: Record<string, unknown> }[]} */
const allSystems = [
  { name: 'patchbay', system: 'patchbay', server: 'patchbay-msgpack.js', serverParams: { history: params.history } },
  { name: 'socketio', system: 'socketio', server: 'socketio-msgpack.js', serverParams: {} },
  // The same, with the client's first retry drawn from Patchbay's 50–250 ms instead of
  // socket.io's 500–1500 ms: what is left of the difference is not the backoff.
  { name: 'socketio-fast', system: 'socketio', server: 'socketio-msgpack.js', serverParams: {}, loadParams: { fastRetry: true } },
  ...(streamsInstalled ? [{ name: 'socketio-streams', system: /** @type {const} */ ('socketio'), server: 'socketio-msgpack.js', serverParams: { sioAdapter: 'streams' } }] : []),
]
const wanted = String(args.systems).split(',')
const systems = allSystems.filter((s) => wanted.includes(s.name))
const labels = {
  patchbay: `patchbay-msgpack, @patchbay/redis, history ${params.history}`,
  socketio: 'socketio-msgpack, @socket.io/redis-adapter',
  'socketio-fast': 'same, client retry 50–250 ms',
  'socketio-streams': 'socketio-msgpack, redis-streams-adapter + recovery',
}

/**
 * Node B's and Redis's counters at one moment.
 * @param {import('./lib/children.js').Child} node
 * @param {import('./lib/redis-server.js').BenchRedis} redis
 */
async function mark(node, redis) {
  const [cpu, counters] = await Promise.all([node.request('cpu', 20_000), redis.counters()])
  return { at: Date.now(), nodeUs: /** @type {number} */ (cpu.us), redis: counters }
}

/**
 * What happened between two marks: CPU of node B and Redis (ms), Redis commands (by name,
 * the runner's INFO left out) and bytes.
 * @param {Awaited<ReturnType<typeof mark>>} a
 * @param {Awaited<ReturnType<typeof mark>>} b
 */
function between(a, b) {
  /** @type {Record<string, number>} */
  const calls = {}
  for (const [command, n] of Object.entries(b.redis.calls)) {
    if (command === 'info') continue
    const d = n - (a.redis.calls[command] ?? 0)
    if (d > 0) calls[command] = d
  }
  return {
    ms: b.at - a.at,
    nodeCpuMs: (b.nodeUs - a.nodeUs) / 1000,
    redisCpuMs: (b.redis.cpuUs - a.redis.cpuUs) / 1000,
    calls,
    redisIn: b.redis.netIn - a.redis.netIn,
    redisOut: b.redis.netOut - a.redis.netOut,
  }
}

/**
 * @param {number[]} sorted ascending, -1 for a client that never caught up
 * @param {number} q
 */
function quantile(sorted, q) {
  const finite = sorted.filter((d) => d >= 0)
  const need = Math.ceil(q * sorted.length)
  return finite.length < need ? Number.NaN : /** @type {number} */ (finite[need - 1])
}

/**
 * One storm: fresh nodes A and B, a fresh proxy and load.
 * @param {(typeof systems)[number]} sys
 * @param {import('./lib/redis-server.js').BenchRedis} redis
 */
async function runOnce(sys, redis) {
  await redisCommand(redis.port, 'FLUSHALL')
  const nodes = ['A', 'B'].map((n) =>
    startChild(join(SRC, 'servers', sys.server), { params: { capMs: params.capMs + 20_000, scenario: 'resume-storm', redisUrl: redis.url, ...sys.serverParams }, label: `${sys.name} node ${n}` }),
  )
  const [a, b] = /** @type {[import('./lib/children.js').Child, import('./lib/children.js').Child]} */ (nodes)
  /** @type {import('./lib/children.js').Child | undefined} */
  let load
  /** @type {import('./lib/tcp-proxy.js').TcpProxy | undefined} */
  let proxy
  try {
    const [portA, portB] = (await Promise.all(nodes.map((node) => node.waitFor('listening', 10_000)))).map((line) => /** @type {number} */ (line.port))
    proxy = await startTcpProxy(/** @type {number} */ (portA))
    load = startChild(join(SRC, 'loads', 'storm.js'), { params: { ...params, ...sys.loadParams, system: sys.system, proxyPort: proxy.port, publishPort: portB }, label: `${sys.name} load` })
    await load.waitFor('ready', params.openMs + params.warmMs)
    // A steady window of publishing first: what node B and Redis spend without a storm.
    const s0 = await mark(b, redis)
    await new Promise((r) => setTimeout(r, params.steadyMs))
    const s1 = await mark(b, redis)
    const steady = between(s0, s1)
    // The storm: new connections go to B, A dies, the clock starts.
    proxy.retarget(/** @type {number} */ (portB))
    const k = await mark(b, redis)
    const killAt = Date.now()
    await a.kill()
    load.send({ type: 'killed', at: killAt })
    const caught = await load.waitFor('caught-up', params.catchUpMs + 10_000)
    const e = await mark(b, redis)
    const storm = between(k, e)
    load.send({ type: 'stop' })
    const result = await load.waitFor('result', 20_000)
    const delays = /** @type {number[]} */ (result.delaysMs)
    // The storm's own cost: its totals less the steady rate over the same time.
    const scale = storm.ms / steady.ms
    /** @type {Record<string, number>} */
    const figures = {
      caughtPct: (100 * caught.caught) / caught.clients,
      t50Ms: quantile(delays, 0.5),
      t99Ms: quantile(delays, 0.99),
      t100Ms: quantile(delays, 1),
      stormMs: storm.ms,
      nodeBCpuMs: storm.nodeCpuMs,
      nodeBExtraCpuMs: storm.nodeCpuMs - steady.nodeCpuMs * scale,
      redisCpuMs: storm.redisCpuMs,
      redisExtraCpuMs: storm.redisCpuMs - steady.redisCpuMs * scale,
      redisExtraCalls: Object.values(storm.calls).reduce((x, y) => x + y, 0) - Object.values(steady.calls).reduce((x, y) => x + y, 0) * scale,
      redisExtraInKiB: (storm.redisIn - steady.redisIn * scale) / 1024,
      redisExtraOutKiB: (storm.redisOut - steady.redisOut * scale) / 1024,
      steadyNodeBCpuPct: (100 * steady.nodeCpuMs) / steady.ms,
      steadyRedisCpuPct: (100 * steady.redisCpuMs) / steady.ms,
      published: result.published,
      pubFailures: result.pubFailures,
      clientsWithLoss: result.clientsWithLoss,
      missed: result.missed + result.tailMissing,
      missedPerClient: (result.missed + result.tailMissing) / result.clients,
      duplicates: result.duplicates,
      gaps: result.gaps,
      lags: result.lags,
      reconnects: result.reconnects,
      recovered: result.recovered,
    }
    for (const [command, n] of Object.entries(storm.calls)) figures[`calls.${command}`] = n - (steady.calls[command] ?? 0) * scale
    return figures
  } finally {
    await load?.stop(3_000)
    await proxy?.close()
    await Promise.all(nodes.map((node) => node.stop(0)))
  }
}

const missing = redisServerMissing()
if (missing !== undefined) {
  console.error(missing)
  process.exit(1)
}
const machine = describeMachine(BENCH)
const startedAt = new Date()
const startLoad = loadavg()
console.log(`Resume storm on Redis${quick ? ' (quick)' : ''}: ${runs} run(s) per system, round-robin; ${params.clients} subscribers on ${params.channels} channels, ${params.ratePerChannel} publishes/s per channel`)
console.log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`)
if (!streamsInstalled) console.log('@socket.io/redis-streams-adapter is not installed: its row is left out\n')
const redis = await startRedis()
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.once(signal, () => void redis.stop().finally(() => process.exit(130)))
}
const redisVersion = /redis_version:(\S+)/.exec(await redisCommand(redis.port, 'INFO server'))?.[1] ?? 'unknown'
/** @type {Map<string, Record<string, number>[]>} */
const perRun = new Map(systems.map((s) => [s.name, []]))
/** @type {Map<string, string>} */
const errors = new Map()
const fmt = (/** @type {number | undefined} */ v, digits = 0) => (v === undefined || Number.isNaN(v) ? '—' : v.toFixed(digits))
try {
  for (let run = 0; run < runs; run++) {
    for (let i = 0; i < systems.length; i++) {
      const sys = /** @type {(typeof systems)[number]} */ (systems[(i + run) % systems.length])
      if (errors.has(sys.name)) continue
      try {
        perRun.get(sys.name)?.push(await runOnce(sys, redis))
      } catch (error) {
        errors.set(sys.name, error instanceof Error ? error.message : String(error))
      }
      process.stderr.write('.')
    }
  }
} finally {
  await redis.stop()
}
process.stderr.write('\n')
const rows = systems.map((sys) => {
  const figures = perRun.get(sys.name) ?? []
  /** @type {Record<string, number>} */
  const med = {}
  for (const key of new Set(figures.flatMap((r) => Object.keys(r)))) med[key] = median(figures.map((r) => r[key] ?? Number.NaN))
  return { system: sys.name, label: labels[/** @type {keyof typeof labels} */ (sys.name)], runs: figures.length, median: med, spread: spread(figures.map((r) => r.t99Ms ?? Number.NaN)), perRun: figures, error: errors.get(sys.name) }
})
/** @type {Record<string, number>} */
const paired = {}
const patchbay = rows.find((r) => r.system === 'patchbay')
for (const other of rows) {
  if (patchbay === undefined || other === patchbay || other.perRun.length === 0 || patchbay.perRun.length === 0) continue
  // Not Redis's extra CPU: at 10 ms ticks over a storm of a second or two it is near its noise.
  for (const key of ['t99Ms', 't100Ms', 'nodeBCpuMs', 'nodeBExtraCpuMs', 'redisCpuMs']) {
    paired[`${key}: patchbay / ${other.system}`] = pairedMedian(patchbay.perRun, other.perRun, (x, y) => (x[key] ?? Number.NaN) / (y[key] ?? Number.NaN))
  }
}
console.log(`redis-server ${redisVersion}; params ${JSON.stringify(params)}\n`)
console.log('| system | caught up | to 50% / 99% / 100% (ms after the kill) | clients with loss | missed msgs | duplicates | node B CPU in the storm (ms), of it extra | redis CPU (ms), of it extra | extra redis cmds | extra redis KiB in / out | reconnects (recovered) | spread of 99% |')
console.log('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
for (const row of rows) {
  const m = row.median
  if (row.error !== undefined) {
    console.log(`| ${row.label} | failed |`)
    continue
  }
  const cells = [
    row.label,
    `${fmt(m.caughtPct, 1)}%`,
    `${fmt(m.t50Ms)} / ${fmt(m.t99Ms)} / ${fmt(m.t100Ms)}`,
    fmt(m.clientsWithLoss),
    fmt(m.missed),
    fmt(m.duplicates),
    `${fmt(m.nodeBCpuMs)}, ${fmt(m.nodeBExtraCpuMs)}`,
    `${fmt(m.redisCpuMs)}, ${fmt(m.redisExtraCpuMs)}`,
    fmt(m.redisExtraCalls),
    `${fmt(m.redisExtraInKiB)} / ${fmt(m.redisExtraOutKiB)}`,
    `${fmt(m.reconnects)} (${fmt(m.recovered)})`,
    `±${fmt(row.spread * 100)}%`,
  ]
  console.log(`| ${cells.join(' | ')} |`)
}
console.log('  extra Redis commands in the storm, by name (median):')
for (const row of rows) {
  const commands = Object.keys(row.median)
    .filter((k) => k.startsWith('calls.') && Math.abs(row.median[k] ?? 0) >= 0.5)
    .map((k) => `${k.slice(6)} ${fmt(row.median[k])}`)
    .join(', ')
  console.log(`    ${row.system}: ${commands || '—'}`)
}
console.log('  paired ratios (median of each round\'s ratio):')
for (const [pair, ratio] of Object.entries(paired)) console.log(`    ${pair.padEnd(48)} ${ratio.toFixed(2)}×`)
for (const row of rows) if (row.error !== undefined) console.log(`  FAILED ${row.system}: ${row.error.split('\n').slice(0, 8).join('\n    ')}`)
const report = { date: startedAt.toISOString(), loadAverage: { start: startLoad, end: loadavg() }, durationSec: Math.round((Date.now() - startedAt.getTime()) / 1000), quick, runs, machine, redis: redisVersion, params, systems: rows, paired }
mkdirSync(dirname(out), { recursive: true })
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`)
console.log(`\nresults written to ${out}`)
process.exitCode = errors.size > 0 ? 1 : 0
