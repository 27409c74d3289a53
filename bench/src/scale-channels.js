/**
 * Many channels on Redis: `channels` (10,000) channels with a few subscribers each, on
 * `connections` (2,000) sockets spread over two nodes that share one redis-server, and a
 * steady publish rate over every channel from publishers on both nodes. Per node: memory per
 * connection and per held channel (RSS and V8 heap + external after forced GCs, the node
 * runs with --expose-gc: with 0 sockets, with the sockets open, with every subscription
 * made), CPU per delivered message and per publish; of Redis: CPU, commands and bytes per
 * publish. Beside it socket.io 4 with `@socket.io/redis-adapter`, rooms for channels.
 *
 *   node src/scale-channels.js [--quick] [--runs N] [--systems patchbay,socketio] [--out file]
 *
 * Every run starts fresh nodes and a fresh load; Redis is flushed between runs; run k goes
 * over the systems rotated by k.
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

const SRC = dirname(fileURLToPath(import.meta.url))
const BENCH = dirname(SRC)

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: process.env.BENCH_QUICK === '1' },
    runs: { type: 'string' },
    systems: { type: 'string', default: 'patchbay,socketio' },
    out: { type: 'string' },
  },
})
const quick = args.quick === true
const runs = Number.parseInt(args.runs ?? process.env.BENCH_RUNS ?? (quick ? '1' : '3'), 10)
if (!(runs >= 1)) throw new Error('runs must be a positive integer')
const out = resolve(args.out ?? join(BENCH, 'results', quick ? 'channels-quick.json' : 'channels-latest.json'))

const params = {
  nodes: Number(process.env.BENCH_CHANNEL_NODES ?? 2),
  connections: quick ? 200 : Number(process.env.BENCH_CHANNEL_CONNECTIONS ?? 2000),
  channels: quick ? 1000 : Number(process.env.BENCH_CHANNELS ?? 10_000),
  perConnection: 15,
  publishers: 2,
  rate: quick ? 500 : Number(process.env.BENCH_CHANNEL_RATE ?? 2000),
  bodyBytes: 80,
  tickMs: 10,
  openConcurrency: 50,
  openMs: 60_000,
  // At least one round over every channel before the window: a channel's first publish
  // costs Redis more (the script creates its keys) than the steady state being measured.
  warmupMs: 0,
  // As long as the engine's `refreshMs` (10 s): each node renews the TTL of every channel it
  // holds once per refreshMs (one pipeline of 2 PEXPIRE per channel), and a shorter window
  // would catch that renewal in some runs and not in others.
  measureMs: quick ? 1_000 : 10_000,
  idleMs: quick ? 500 : 2_000,
  capMs: 150_000,
}

params.warmupMs = Math.round((params.channels / params.rate) * 1000) + 500

/** @type {Record<string, { server: string }>} */
const allSystems = { patchbay: { server: 'patchbay-msgpack.js' }, socketio: { server: 'socketio-msgpack.js' } }
const systems = String(args.systems).split(',').filter((s) => s in allSystems)
const labels = { patchbay: 'patchbay-msgpack, @patchbay/redis', socketio: 'socketio-msgpack, @socket.io/redis-adapter' }

/** @param {import('./lib/children.js').Child[]} nodes */
const memories = (nodes) => Promise.all(nodes.map((node) => node.request('mem', 20_000)))

/**
 * One run: fresh nodes, fresh load.
 * @param {string} system
 * @param {import('./lib/redis-server.js').BenchRedis} redis
 */
async function runOnce(system, redis) {
  await redisCommand(redis.port, 'FLUSHALL')
  const spec = /** @type {{ server: string }} */ (allSystems[system])
  const nodes = Array.from({ length: params.nodes }, (_, i) =>
    startChild(join(SRC, 'servers', spec.server), { params: { capMs: params.capMs + 20_000, scenario: 'many-channels', redisUrl: redis.url }, nodeArgs: ['--expose-gc'], label: `${system} node ${i}` }),
  )
  /** @type {import('./lib/children.js').Child | undefined} */
  let load
  try {
    const ports = (await Promise.all(nodes.map((node) => node.waitFor('listening', 10_000)))).map((line) => line.port)
    // The nodes' engines connect to Redis when they start listening: let that settle.
    await new Promise((r) => setTimeout(r, 200))
    const m0 = await memories(nodes)
    load = startChild(join(SRC, 'loads', 'channels.js'), { params: { ...params, system, ports }, label: `${system} load` })
    await load.waitFor('connected', params.openMs + 10_000)
    const m1 = await memories(nodes)
    load.send({ type: 'subscribe' })
    const subscribed = await load.waitFor('subscribed', params.openMs + 10_000)
    const m2 = await memories(nodes)
    // What the nodes and Redis spend holding it all with nothing published (timers, pings,
    // the engine's TTL renewals when one falls in the window), to set against the traffic.
    const idleCpu = async () => ({ at: Date.now(), redis: (await redis.counters()).cpuUs, nodes: (await Promise.all(nodes.map((node) => node.request('cpu', 20_000)))).map((c) => /** @type {number} */ (c.us)) })
    const i0 = await idleCpu()
    await new Promise((r) => setTimeout(r, params.idleMs))
    const i1 = await idleCpu()
    const idleMs = i1.at - i0.at
    const idleNodeUsPerSec = (i1.nodes.reduce((x, y) => x + y, 0) - i0.nodes.reduce((x, y) => x + y, 0)) / (idleMs / 1000)
    load.send({ type: 'publish' })
    await load.waitFor('publishing', 10_000)
    await new Promise((r) => setTimeout(r, params.warmupMs))
    const running = load
    const mark = async () => {
      const [l, counters, ...cpu] = await Promise.all([running.request('mark', 20_000), redis.counters(), ...nodes.map((node) => node.request('cpu', 20_000))])
      return { l, counters, cpu: cpu.map((c) => /** @type {number} */ (c.us)) }
    }
    const a = await mark()
    await new Promise((r) => setTimeout(r, params.measureMs))
    const b = await mark()
    load.send({ type: 'stop' })
    const result = await load.waitFor('result', 20_000)
    const delivered = b.l.delivered - a.l.delivered
    const published = b.l.published - a.l.published
    const seconds = (b.l.at - a.l.at) / 1000
    if (delivered <= 0 || published <= 0) throw new Error('nothing was delivered in the measured window')
    const nodeCpu = b.cpu.reduce((sum, us, i) => sum + us - (a.cpu[i] ?? 0), 0)
    const redisCpu = b.counters.cpuUs - a.counters.cpuUs
    const calls = (/** @type {import('./lib/redis-server.js').RedisCounters} */ c) => c.totalCalls - (c.calls.info ?? 0)
    const perNode = params.connections / params.nodes
    const held = /** @type {number[]} */ (subscribed.heldPerNode)
    const avg = (/** @type {number[]} */ xs) => xs.reduce((x, y) => x + y, 0) / xs.length
    /** @type {Record<string, number>} */
    const figures = {
      deliveredPerSec: delivered / seconds,
      publishedPerSec: published / seconds,
      nodesCpuPct: (100 * nodeCpu) / 1000 / (seconds * 1000),
      nodeCpuPerMsg: nodeCpu / delivered,
      nodeCpuPerPublish: nodeCpu / published,
      idleNodesCpuPct: idleNodeUsPerSec / 10_000,
      idleRedisCpuPct: (i1.redis - i0.redis) / idleMs / 10,
      // The traffic's own cost: the window's CPU less the idle rate over the same time.
      nodeNetCpuPerMsg: (nodeCpu - idleNodeUsPerSec * seconds) / delivered,
      nodeNetCpuPerPublish: (nodeCpu - idleNodeUsPerSec * seconds) / published,
      redisCpuPct: (100 * redisCpu) / 1000 / (seconds * 1000),
      redisCpuPerPublish: redisCpu / published,
      redisCallsPerPublish: (calls(b.counters) - calls(a.counters)) / published,
      redisInPerPublish: (b.counters.netIn - a.counters.netIn) / published,
      redisOutPerPublish: (b.counters.netOut - a.counters.netOut) / published,
      loadCpuPerMsg: (b.l.cpuUs - a.l.cpuUs) / delivered,
      heldPerNode: avg(held),
      rssPerConnKiB: avg(m1.map((m, i) => (m.rss - (m0[i]?.rss ?? 0)) / perNode / 1024)),
      heapPerConnKiB: avg(m1.map((m, i) => (m.heapUsed + m.external - (m0[i]?.heapUsed ?? 0) - (m0[i]?.external ?? 0)) / perNode / 1024)),
      rssPerChannelKiB: avg(m2.map((m, i) => (m.rss - (m1[i]?.rss ?? 0)) / (held[i] ?? 1) / 1024)),
      heapPerChannelKiB: avg(m2.map((m, i) => (m.heapUsed + m.external - (m1[i]?.heapUsed ?? 0) - (m1[i]?.external ?? 0)) / (held[i] ?? 1) / 1024)),
      heapPerSubscriptionB: avg(m2.map((m, i) => (m.heapUsed + m.external - (m1[i]?.heapUsed ?? 0) - (m1[i]?.external ?? 0)) / (perNode * Math.min(params.perConnection, params.channels)))),
      rssAllKiBPerConn: avg(m2.map((m, i) => (m.rss - (m0[i]?.rss ?? 0)) / perNode / 1024)),
      publishFailures: result.failures,
    }
    for (const [command, n] of Object.entries(b.counters.calls)) {
      if (command === 'info') continue
      const d = n - (a.counters.calls[command] ?? 0)
      if (d > 0) figures[`calls.${command}`] = d / published
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
const startLoad = loadavg()
console.log(`Many channels on Redis${quick ? ' (quick)' : ''}: ${runs} run(s) per system, round-robin; ${params.connections} sockets on ${params.nodes} nodes, ${params.perConnection} channels each, ${params.channels} channels, ${params.rate} publishes/s`)
console.log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; load average at start ${startLoad.map((l) => l.toFixed(2)).join(' ')}\n`)
const redis = await startRedis()
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.once(signal, () => void redis.stop().finally(() => process.exit(130)))
}
const redisVersion = /redis_version:(\S+)/.exec(await redisCommand(redis.port, 'INFO server'))?.[1] ?? 'unknown'
/** @type {Map<string, Record<string, number>[]>} */
const perRun = new Map(systems.map((s) => [s, []]))
/** @type {Map<string, string>} */
const errors = new Map()
try {
  for (let run = 0; run < runs; run++) {
    for (let i = 0; i < systems.length; i++) {
      const system = /** @type {string} */ (systems[(i + run) % systems.length])
      if (errors.has(system)) continue
      try {
        perRun.get(system)?.push(await runOnce(system, redis))
      } catch (error) {
        errors.set(system, error instanceof Error ? error.message : String(error))
      }
      process.stderr.write('.')
    }
  }
} finally {
  await redis.stop()
}
process.stderr.write('\n')
const fmt = (/** @type {number | undefined} */ v, digits = 1) => (v === undefined || Number.isNaN(v) ? '—' : v.toFixed(digits))
const rows = systems.map((system) => {
  const figures = perRun.get(system) ?? []
  /** @type {Record<string, number>} */
  const med = {}
  for (const key of new Set(figures.flatMap((r) => Object.keys(r)))) med[key] = median(figures.map((r) => r[key] ?? Number.NaN))
  return { system, label: labels[/** @type {keyof typeof labels} */ (system)], runs: figures.length, median: med, spread: spread(figures.map((r) => r.nodeCpuPerMsg ?? Number.NaN)), perRun: figures, error: errors.get(system) }
})
/** @type {Record<string, number>} */
const paired = {}
const [first, second] = rows
if (first !== undefined && second !== undefined && first.perRun.length > 0 && second.perRun.length > 0) {
  for (const key of ['nodeCpuPerMsg', 'nodeCpuPerPublish', 'nodeNetCpuPerMsg', 'idleNodesCpuPct', 'redisCpuPerPublish', 'heapPerConnKiB', 'heapPerChannelKiB', 'rssAllKiBPerConn']) {
    paired[`${key}: ${first.system} / ${second.system}`] = pairedMedian(first.perRun, second.perRun, (x, y) => (x[key] ?? Number.NaN) / (y[key] ?? Number.NaN))
  }
}
console.log(`redis-server ${redisVersion}; params ${JSON.stringify(params)}\n`)
console.log('| system | delivered msg/s | publishes/s | nodes CPU (% of a core), idle | node CPU/msg (µs), net of idle | node CPU/publish (µs), net of idle | redis CPU (%), idle | redis CPU/publish (µs) | redis cmds/publish | redis bytes in / out per publish | channels held per node | heap+ext per socket (KiB) | RSS per socket (KiB) | heap+ext per held channel (KiB) | RSS per held channel (KiB) | RSS per socket, all in (KiB) | spread |')
console.log('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
for (const row of rows) {
  const m = row.median
  if (row.error !== undefined) {
    console.log(`| ${row.label} | failed |`)
    continue
  }
  const cells = [
    row.label,
    fmt(m.deliveredPerSec, 0),
    fmt(m.publishedPerSec, 0),
    `${fmt(m.nodesCpuPct, 0)}, ${fmt(m.idleNodesCpuPct, 1)}`,
    `${fmt(m.nodeCpuPerMsg)}, ${fmt(m.nodeNetCpuPerMsg)}`,
    `${fmt(m.nodeCpuPerPublish)}, ${fmt(m.nodeNetCpuPerPublish)}`,
    `${fmt(m.redisCpuPct, 0)}, ${fmt(m.idleRedisCpuPct, 1)}`,
    fmt(m.redisCpuPerPublish),
    fmt(m.redisCallsPerPublish, 2),
    `${fmt(m.redisInPerPublish, 0)} / ${fmt(m.redisOutPerPublish, 0)}`,
    fmt(m.heldPerNode, 0),
    fmt(m.heapPerConnKiB),
    fmt(m.rssPerConnKiB),
    fmt(m.heapPerChannelKiB, 2),
    fmt(m.rssPerChannelKiB, 2),
    fmt(m.rssAllKiBPerConn),
    `±${fmt(row.spread * 100, 0)}%`,
  ]
  console.log(`| ${cells.join(' | ')} |`)
}
console.log('  Redis commands per publish, by name (median):')
for (const row of rows) {
  const commands = Object.keys(row.median)
    .filter((k) => k.startsWith('calls.'))
    .map((k) => `${k.slice(6)} ${fmt(row.median[k], 2)}`)
    .join(', ')
  console.log(`    ${row.system}: ${commands || '—'}`)
}
console.log("  paired ratios (median of each round's ratio):")
for (const [pair, ratio] of Object.entries(paired)) console.log(`    ${pair.padEnd(48)} ${ratio.toFixed(2)}×`)
for (const row of rows) if (row.error !== undefined) console.log(`  FAILED ${row.system}: ${row.error.split('\n').slice(0, 8).join('\n    ')}`)
const report = { date: startedAt.toISOString(), durationSec: Math.round((Date.now() - startedAt.getTime()) / 1000), loadAverage: { start: startLoad, end: loadavg() }, quick, runs, machine, redis: redisVersion, params, systems: rows, paired }
mkdirSync(dirname(out), { recursive: true })
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`)
console.log(`\nresults written to ${out}`)
process.exitCode = errors.size > 0 ? 1 : 0
