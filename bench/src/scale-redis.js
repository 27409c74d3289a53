/**
 * Scale-out on Redis: Patchbay with `@patchbay/redis` on 1, 2 and 3 server processes
 * (nodes) sharing one redis-server that this runner starts (loopback, free port,
 * persistence off) and stops, beside Patchbay's in-process memory engine on one node.
 * Subscribers are spread round robin over the nodes, the publisher is on the first node.
 * With `@socket.io/redis-adapter` installed, socket.io 4 on the same Redis runs beside it.
 *
 *   node src/scale-redis.js [--quick] [--runs N] [--nodes 1,2,3] [--encodings msgpack,json]
 *                           [--scenarios scale-fan-out,scale-latency] [--no-idle] [--history N]
 *                           [--out file]
 *
 * scale-fan-out: `fan-out`'s pacing (at most 64 messages ahead of the average subscriber);
 * over the measured window the runner reads every node's CPU time (IPC, process.cpuUsage),
 * redis-server's (/proc/<pid>/stat) and Redis's INFO commandstats and stats at the same two
 * marks: CPU per delivered message per node and of Redis, Redis commands and bytes per
 * publish. scale-latency: one message at a time, publish→receive p50/p99 in µs.
 *
 * Unless --no-idle: the largest node count once more with one node that holds no subscriber
 * (its CPU per publish shows whether a node pays for channels it does not hold).
 *
 * Every configuration runs in fresh processes; run k goes over all configurations, rotated
 * by k (as run.js does). Redis is flushed between configurations.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startChild } from './lib/children.js'
import { describeMachine } from './lib/machine.js'
import { redisCommand, redisServerMissing, startRedis } from './lib/redis-server.js'
import { median, pairedMedian, spread } from './lib/stats.js'

const SRC = dirname(fileURLToPath(import.meta.url))
const BENCH = dirname(SRC)

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: process.env.BENCH_QUICK === '1' },
    runs: { type: 'string' },
    nodes: { type: 'string', default: '1,2,3' },
    encodings: { type: 'string', default: 'msgpack,json' },
    scenarios: { type: 'string', default: 'scale-fan-out,scale-latency' },
    out: { type: 'string' },
    'no-idle': { type: 'boolean' },
    history: { type: 'string' },
  },
})
const quick = args.quick === true
const runs = Number.parseInt(args.runs ?? process.env.BENCH_RUNS ?? (quick ? '1' : '3'), 10)
if (!(runs >= 1)) throw new Error('runs must be a positive integer')
const out = resolve(args.out ?? join(BENCH, 'results', quick ? 'redis-quick.json' : 'redis-latest.json'))
const nodeCounts = String(args.nodes).split(',').map(Number)
const encodings = /** @type {('msgpack' | 'json')[]} */ (String(args.encodings).split(','))
const scenarioNames = String(args.scenarios).split(',')
const subscribers = quick ? 20 : Number(process.env.BENCH_SUBSCRIBERS ?? 200)
const maxNodes = Math.max(...nodeCounts)
const idleNode = args['no-idle'] !== true && maxNodes >= 2
// --history N: Patchbay's topic keeps N events per channel (socket.io has no history).
const history = args.history === undefined ? undefined : Number.parseInt(args.history, 10)
if (history !== undefined && !(history >= 0)) throw new Error('history must be a non-negative integer')
const historyOf = (/** @type {string} */ prefix) => (prefix === 'patchbay' && history !== undefined ? `, history ${history}` : '')

/**
 * @typedef {{ name: string, system: string, encoding: 'msgpack' | 'json', engine: 'memory' | 'redis', nodes: number, subscriberNodes?: number }} Config
 * `system` names the scripts in servers/ and loads/; `subscriberNodes`, when set, is how
 * many of the nodes take subscribers (the others hold no subscriber of the topic).
 */
// socket.io with @socket.io/redis-adapter runs beside Patchbay when the adapter is installed.
const socketIoAdapter = await import('@socket.io/redis-adapter').then(
  () => true,
  () => false,
)
const systemsOf = (/** @type {'msgpack' | 'json'} */ encoding) => [
  { prefix: 'patchbay', system: `patchbay-${encoding}` },
  ...(socketIoAdapter ? [{ prefix: 'socketio', system: encoding === 'json' ? 'socketio' : 'socketio-msgpack' }] : []),
]
/** @type {Config[]} */
const configs = encodings.flatMap((encoding) =>
  systemsOf(encoding).flatMap(({ prefix, system }) => [
    { name: `${prefix}-${encoding}-memory ×1${historyOf(prefix)}`, system, encoding, engine: /** @type {const} */ ('memory'), nodes: 1 },
    ...nodeCounts.map((nodes) => ({ name: `${prefix}-${encoding}-redis ×${nodes}${historyOf(prefix)}`, system, encoding, engine: /** @type {const} */ ('redis'), nodes })),
    // One more node that holds no subscriber: its CPU shows whether a node pays for traffic
    // on channels it does not hold.
    ...(idleNode
      ? [{ name: `${prefix}-${encoding}-redis ×${maxNodes} (1 idle)${historyOf(prefix)}`, system, encoding, engine: /** @type {const} */ ('redis'), nodes: maxNodes, subscriberNodes: maxNodes - 1 }]
      : []),
  ]),
)

const scenarios = {
  'scale-fan-out': {
    subscribers,
    bodyBytes: 80,
    window: 64,
    burst: 16,
    openConcurrency: 50,
    warmupMs: quick ? 200 : 500,
    measureMs: quick ? 500 : 2_000,
    maxMessages: 10_000_000,
    maxMs: 30_000,
  },
  'scale-latency': {
    subscribers,
    bodyBytes: 80,
    openConcurrency: 50,
    warmupMessages: quick ? 20 : 100,
    messages: quick ? 50 : 500,
    maxMs: 30_000,
  },
}

/** How many of `total` subscribers node i holds (subscriber j is on node j mod n). */
const share = (/** @type {number} */ total, /** @type {number} */ n, /** @type {number} */ i) => Math.floor(total / n) + (i < total % n ? 1 : 0)

/**
 * One run of one configuration: n fresh nodes, one fresh load.
 * @param {Config} config
 * @param {'scale-fan-out' | 'scale-latency'} scenario
 * @param {import('./lib/redis-server.js').BenchRedis} redis
 * @returns {Promise<Record<string, number>>}
 */
async function runOnce(config, scenario, redis) {
  const params = scenarios[scenario]
  const capMs = params.maxMs + 20_000
  const label = `${scenario}/${config.name}`
  await redisCommand(redis.port, 'FLUSHALL')
  const nodes = Array.from({ length: config.nodes }, (_, i) =>
    startChild(join(SRC, 'servers', `${config.system}.js`), {
      params: {
        capMs: capMs + 10_000,
        scenario,
        ...(config.engine === 'redis' ? { redisUrl: redis.url } : {}),
        ...(history !== undefined && config.system.startsWith('patchbay') ? { history } : {}),
      },
      label: `${label} node ${i}`,
    }),
  )
  /** @type {import('./lib/children.js').Child | undefined} */
  let load
  try {
    const ports = (await Promise.all(nodes.map((node) => node.waitFor('listening', 10_000)))).map((line) => line.port)
    load = startChild(join(SRC, 'loads', `${config.system}.js`), { params: { ...params, scenario, ports, capMs, ...(config.subscriberNodes === undefined ? {} : { subscriberNodes: config.subscriberNodes }) }, label: `${label} load` })
    if (scenario === 'scale-latency') {
      const result = await load.waitFor('result', capMs)
      return { p50Us: result.p50Us, p99Us: result.p99Us, lastP50Us: result.lastP50Us, lastP99Us: result.lastP99Us, messages: result.messages }
    }
    const started = load
    await started.waitFor('ready', capMs)
    await new Promise((r) => setTimeout(r, scenarios['scale-fan-out'].warmupMs))
    const mark = async () => {
      const [loadMark, redisCounters, ...nodeCpu] = await Promise.all([
        started.request('mark', 10_000),
        config.engine === 'redis' ? redis.counters() : Promise.resolve(undefined),
        ...nodes.map((node) => node.request('cpu', 10_000)),
      ])
      return { loadMark, redisCounters, nodeCpu: nodeCpu.map((c) => /** @type {number} */ (c.us)) }
    }
    const a = await mark()
    await new Promise((r) => setTimeout(r, scenarios['scale-fan-out'].measureMs))
    const b = await mark()
    started.send({ type: 'stop' })
    await started.waitFor('result', 10_000)
    const delivered = b.loadMark.delivered - a.loadMark.delivered
    const published = b.loadMark.published - a.loadMark.published
    const seconds = (b.loadMark.at - a.loadMark.at) / 1000
    if (delivered <= 0 || published <= 0) throw new Error('nothing was delivered in the measured window')
    /** @type {Record<string, number>} */
    const figures = {
      deliveredPerSec: delivered / seconds,
      publishedPerSec: published / seconds,
      loadCpuPerMsg: (b.loadMark.cpuUs - a.loadMark.cpuUs) / delivered,
      nodesCpuPerMsg: b.nodeCpu.reduce((sum, us, i) => sum + us - (a.nodeCpu[i] ?? 0), 0) / delivered,
    }
    // Each node's CPU per message it delivered (its share of the subscribers; node 0 also
    // takes the publisher's publishes).
    const holding = config.subscriberNodes ?? config.nodes
    b.nodeCpu.forEach((us, i) => {
      const spent = us - (a.nodeCpu[i] ?? 0)
      if (i < holding) figures[`node${i}CpuPerMsg`] = spent / ((delivered * share(subscribers, holding, i)) / subscribers)
      figures[`node${i}CpuPerPublish`] = spent / published
    })
    if (a.redisCounters !== undefined && b.redisCounters !== undefined) {
      const before = a.redisCounters
      const after = b.redisCounters
      figures.redisCpuPerMsg = (after.cpuUs - before.cpuUs) / delivered
      figures.redisCpuPerPublish = (after.cpuUs - before.cpuUs) / published
      // The runner's own INFO calls (two per mark) are left out.
      const calls = (/** @type {import('./lib/redis-server.js').RedisCounters} */ c) => c.totalCalls - (c.calls.info ?? 0)
      figures.redisCallsPerPublish = (calls(after) - calls(before)) / published
      for (const [command, n] of Object.entries(after.calls)) {
        if (command === 'info') continue
        const d = n - (before.calls[command] ?? 0)
        if (d > 0) figures[`calls.${command}`] = d / published
      }
      figures.redisInPerPublish = (after.netIn - before.netIn) / published
      figures.redisOutPerPublish = (after.netOut - before.netOut) / published
    }
    return figures
  } finally {
    await load?.stop(3_000)
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
console.log(`Patchbay scale-out on Redis${quick ? ' (quick)' : ''}: ${runs} run(s) per configuration, round-robin, ${subscribers} subscribers`)
console.log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}\n`)

const redis = await startRedis()
// Interrupted: stop our redis-server too (the nodes and loads exit when the runner goes).
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.once(signal, () => void redis.stop().finally(() => process.exit(130)))
}
const redisVersion = /redis_version:(\S+)/.exec(await redisCommand(redis.port, 'INFO server'))?.[1] ?? 'unknown'
console.log(`redis-server ${redisVersion} on 127.0.0.1:${redis.port} (no RDB, no AOF)\n`)
/** @type {Record<string, unknown>[]} */
const results = []
let failures = 0
const fmt = (/** @type {number | undefined} */ v, digits = 1) => (v === undefined || Number.isNaN(v) ? '—' : v.toFixed(digits))
try {
  for (const scenario of /** @type {('scale-fan-out' | 'scale-latency')[]} */ (scenarioNames)) {
    if (!(scenario in scenarios)) throw new Error(`unknown scenario ${scenario}`)
    /** @type {Map<string, Record<string, number>[]>} */
    const perRun = new Map(configs.map((c) => [c.name, []]))
    /** @type {Map<string, string>} */
    const errors = new Map()
    const t0 = Date.now()
    for (let run = 0; run < runs; run++) {
      const order = configs.map((_, i) => /** @type {Config} */ (configs[(i + run) % configs.length]))
      for (const config of order) {
        if (errors.has(config.name)) continue
        try {
          perRun.get(config.name)?.push(await runOnce(config, scenario, redis))
        } catch (error) {
          errors.set(config.name, error instanceof Error ? error.message : String(error))
        }
        process.stderr.write('.')
      }
    }
    process.stderr.write('\n')
    failures += errors.size
    const rows = configs.map((config) => {
      const figures = perRun.get(config.name) ?? []
      /** @type {Record<string, number>} */
      const med = {}
      for (const key of new Set(figures.flatMap((r) => Object.keys(r)))) med[key] = median(figures.map((r) => r[key] ?? NaN))
      const headline = scenario === 'scale-fan-out' ? 'deliveredPerSec' : 'p50Us'
      return { ...config, runs: figures.length, median: med, spread: spread(figures.map((r) => r[headline] ?? NaN)), perRun: figures, error: errors.get(config.name) }
    })
    // Paired ratios: each Redis configuration over the memory engine on one node of the same
    // encoding, and over Redis on one node (run i against run i).
    /** @type {Record<string, number>} */
    const paired = {}
    const key = scenario === 'scale-fan-out' ? 'deliveredPerSec' : 'p50Us'
    for (const row of rows) {
      if (row.engine !== 'redis') continue
      const prefix = row.name.split('-')[0] ?? ''
      const suffix = historyOf(prefix)
      const bases = [`${prefix}-${row.encoding}-memory ×1${suffix}`, `${prefix}-${row.encoding}-redis ×1${suffix}`]
      if (prefix === 'patchbay') bases.push(row.name.replace('patchbay-', 'socketio-').replace(suffix, ''))
      for (const baseName of bases) {
        const base = rows.find((r) => r.name === baseName)
        if (base === undefined || base.name === row.name || base.perRun.length === 0 || row.perRun.length === 0) continue
        paired[`${row.name} / ${baseName}`] = pairedMedian(row.perRun, base.perRun, (x, y) => (x[key] ?? NaN) / (y[key] ?? NaN))
      }
    }
    console.log(`## ${scenario}`)
    console.log(`params ${JSON.stringify(scenarios[scenario])}; medians of ${runs} run(s) in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`)
    if (scenario === 'scale-fan-out') {
      console.log('| configuration | delivered msg/s | publishes/s | nodes CPU/msg (µs) | per node CPU/msg (µs) | redis CPU/msg (µs) | redis CPU/publish (µs) | redis cmds/publish | redis bytes in / out per publish | load CPU/msg (µs) | spread |')
      console.log('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
      for (const row of rows) {
        const m = row.median
        // A node without subscribers delivers nothing: its CPU per publish instead.
        const perNode = Array.from({ length: row.nodes }, (_, i) =>
          m[`node${i}CpuPerMsg`] === undefined ? `idle: ${fmt(m[`node${i}CpuPerPublish`], 2)}/publish` : fmt(m[`node${i}CpuPerMsg`]),
        ).join(' / ')
        const commands = Object.keys(m)
          .filter((k) => k.startsWith('calls.'))
          .map((k) => `${k.slice(6)} ${fmt(m[k], 2)}`)
          .join(', ')
        const redisCols = row.engine === 'redis' ? [fmt(m.redisCpuPerMsg, 2), fmt(m.redisCpuPerPublish), `${fmt(m.redisCallsPerPublish, 2)} (${commands})`, `${fmt(m.redisInPerPublish, 0)} / ${fmt(m.redisOutPerPublish, 0)}`] : ['—', '—', '—', '—']
        const cells = row.error !== undefined ? [row.name, 'failed'] : [row.name, fmt(m.deliveredPerSec, 0), fmt(m.publishedPerSec, 0), fmt(m.nodesCpuPerMsg, 2), perNode, ...redisCols, fmt(m.loadCpuPerMsg, 2), `±${fmt(row.spread * 100, 0)}%`]
        console.log(`| ${cells.join(' | ')} |`)
      }
    } else {
      console.log('| configuration | p50 (µs) | p99 (µs) | last subscriber p50 (µs) | last subscriber p99 (µs) | spread of p50 |')
      console.log('|---|--:|--:|--:|--:|--:|')
      for (const row of rows) {
        const m = row.median
        const cells = row.error !== undefined ? [row.name, 'failed'] : [row.name, fmt(m.p50Us, 0), fmt(m.p99Us, 0), fmt(m.lastP50Us, 0), fmt(m.lastP99Us, 0), `±${fmt(row.spread * 100, 0)}%`]
        console.log(`| ${cells.join(' | ')} |`)
      }
    }
    console.log(`  paired ratios of ${key} (median of each round's ratio):`)
    for (const [pair, ratio] of Object.entries(paired)) console.log(`    ${pair.padEnd(72)} ${ratio.toFixed(2)}×`)
    for (const row of rows) if (row.error !== undefined) console.log(`  FAILED ${row.name}: ${row.error.split('\n').slice(0, 8).join('\n    ')}`)
    console.log('')
    results.push({ name: scenario, params: scenarios[scenario], configurations: rows, paired })
  }
} finally {
  await redis.stop()
}

const report = { date: startedAt.toISOString(), durationSec: Math.round((Date.now() - startedAt.getTime()) / 1000), quick, runs, machine, redis: redisVersion, scenarios: results }
mkdirSync(dirname(out), { recursive: true })
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`)
console.log(`results written to ${out}`)
process.exitCode = failures > 0 ? 1 : 0
