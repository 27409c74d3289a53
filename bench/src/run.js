/**
 * The bench runner. For each scenario it runs every system several times, round-robin (so
 * drift of the machine spreads over all systems evenly), each run in two fresh processes:
 * the server and the load, both on 127.0.0.1. It prints one table per scenario with medians
 * and ratios to raw ws of the same encoding, and writes the results as JSON.
 *
 *   node src/run.js [--quick] [--runs N] [--scenarios a,b] [--systems a,b] [--out file]
 *
 * Environment: BENCH_RUNS, BENCH_QUICK=1, BENCH_SCENARIOS, BENCH_SYSTEMS, BENCH_CONNECTIONS,
 * BENCH_SUBSCRIBERS, BENCH_LATENCY_CALLS, BENCH_SLOW_SUBSCRIBERS, BENCH_SLOW_MEASURE_MS,
 * BENCH_MAX_BUFFERED, BENCH_RSS_CAP_MIB.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startChild } from './lib/children.js'
import { describeMachine } from './lib/machine.js'
import { formatTable } from './lib/report.js'
import { median, pairedMedian, spread } from './lib/stats.js'
import { scenarios } from './scenarios.js'
import { pairs, systems } from './systems.js'

const SRC = dirname(fileURLToPath(import.meta.url))
const BENCH = dirname(SRC)
const ROOT = dirname(BENCH)

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: process.env.BENCH_QUICK === '1' },
    runs: { type: 'string' },
    scenarios: { type: 'string', default: process.env.BENCH_SCENARIOS },
    systems: { type: 'string', default: process.env.BENCH_SYSTEMS },
    out: { type: 'string' },
  },
})
const quick = args.quick === true
const runs = Number.parseInt(args.runs ?? process.env.BENCH_RUNS ?? (quick ? '1' : '5'), 10)
if (!(runs >= 1)) throw new Error('runs must be a positive integer')
const out = resolve(args.out ?? join(BENCH, 'results', quick ? 'quick.json' : 'latest.json'))

/** @param {string | undefined} list @param {string[]} known @param {string} what */
function pick(list, known, what) {
  if (list === undefined || list === '') return known
  // A name that is not known but starts a family of known ones (`large-messages` for
  // `large-messages-16k` and `large-messages-1m`) stands for all of them.
  return list.split(',').flatMap((raw) => {
    const name = raw.trim()
    if (known.includes(name)) return [name]
    const family = known.filter((k) => k.startsWith(`${name}-`))
    if (family.length === 0) throw new Error(`unknown ${what} "${name}"; known: ${known.join(', ')}`)
    return family
  })
}
const scenarioNames = pick(args.scenarios, scenarios.map((s) => s.name), 'scenario')
const systemNames = pick(args.systems, systems.map((s) => s.name), 'system')

/**
 * One run of one system in one scenario: fresh server, fresh load.
 * @param {import('./systems.js').System} system
 * @param {import('./scenarios.js').Scenario} scenario
 * @param {Record<string, number>} params
 * @returns {Promise<{ figures: Record<string, number>, timeline?: { stepMs: number, rss: number[] } }>}
 */
async function runOnce(system, scenario, params) {
  if (scenario.drive === 'storm') return { figures: await runStorm(system, scenario, params) }
  const capMs = scenario.capMs(params)
  const label = `${scenario.name}/${system.name}`
  const server = startChild(join(SRC, 'servers', `${system.server ?? system.name}.js`), {
    params: { capMs: capMs + 10_000, scenario: scenario.name, ...scenario.serverParams?.(params) },
    nodeArgs: ['--expose-gc'],
    label: `${label} server`,
  })
  /** @type {import('./lib/children.js').Child | undefined} */
  let load
  /** @type {(() => void)[]} what stops listening to the loads' and the server's messages */
  const stopListening = []
  /** @type {import('./lib/children.js').Child[]} */
  const sides = []
  /** @type {import('./lib/children.js').Child | undefined} the caller (scenario.caller) */
  let caller
  try {
    const { port } = await server.waitFor('listening', 30_000)
    const before = scenario.serverMemory === 'idle' ? await server.request('mem', 10_000) : undefined
    // fan-out (and latency-under-load) over several load processes: the others hold
    // subscribers only (drivers.js).
    const loads = Math.max(1, params.loads ?? 1)
    const share = Math.ceil((params.subscribers ?? 0) / loads)
    for (let i = 1; i < loads; i++) {
      const side = startChild(join(SRC, 'loads', `${system.load ?? system.name}.js`), {
        params: { ...params, scenario: 'fan-out-subscribers', subscribers: share, port, capMs, encoding: system.encoding },
        label: `${label} load ${i + 1}`,
      })
      sides.push(side)
    }
    if (scenario.caller === true) {
      // The measured calls come from a process of their own (latency-under-load), so their
      // round trips do not wait behind the subscribers' event frames in a load process.
      caller = startChild(join(SRC, 'loads', `${system.load ?? system.name}.js`), {
        params: { ...params, scenario: 'latency-caller', port, capMs, encoding: system.encoding },
        label: `${label} caller`,
      })
    }
    await Promise.all([...sides, ...(caller === undefined ? [] : [caller])].map((child) => child.waitFor('ready', capMs)))
    const mainParams = loads > 1 ? { ...params, totalSubscribers: params.subscribers ?? 0, subscribers: (params.subscribers ?? 0) - share * (loads - 1) } : { ...params, totalSubscribers: params.subscribers ?? 0 }
    const started = startChild(join(SRC, 'loads', `${system.load ?? system.name}.js`), {
      params: { ...mainParams, scenario: scenario.name, port, capMs, encoding: system.encoding },
      label: `${label} load`,
    })
    load = started
    if (caller !== undefined) {
      // The main load asks for calls (`calls`: ms, everyMs) when its steps need them; the
      // caller's answer goes back to it as `calls-done`.
      const callerChild = caller
      stopListening.push(
        started.onMessage('calls', (message) => {
          callerChild.request('calls', message.ms + 20_000, { ms: message.ms, everyMs: message.everyMs }).then(
            (reply) => started.send({ ...reply, type: 'calls-done' }),
            (/** @type {unknown} */ error) => started.send({ type: 'calls-done', error: error instanceof Error ? error.message : String(error) }),
          )
        }),
      )
    }
    if (scenario.relaySides === true && sides.length > 0) {
      // The main load paces on every subscriber, not its share alone: every 20 ms it is told
      // what the other loads have received (latency-under-load).
      let polling = true
      const poll = async () => {
        while (polling) {
          const counts = await Promise.all(sides.map((side) => side.request('progress', 5_000))).catch(() => undefined)
          if (counts === undefined || !polling) return
          started.send({ type: 'sides', delivered: counts.reduce((sum, c) => sum + c.delivered, 0) })
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
      }
      void poll()
      stopListening.push(() => {
        polling = false
      })
    }
    /** @type {Record<string, number>} */
    const figures = {}
    /** @type {{ stepMs: number, rss: number[] } | undefined} */
    let timeline
    if (scenario.serverMemory === 'idle' && before !== undefined) {
      const ready = await started.waitFor('ready', capMs)
      const after = await server.request('mem', 10_000)
      started.send({ type: 'stop' })
      figures.rssPerConn = (after.rss - before.rss) / ready.connections
      figures.heapPerConn = (after.heapUsed + after.external - before.heapUsed - before.external) / ready.connections
    }
    if (scenario.serverMemory === 'publish') {
      // Everyone is subscribed: settle the server, mark the start, let the load publish.
      await started.waitFor('ready', capMs)
      const start = await server.request('mem', 10_000)
      await server.request('reset-peak', 10_000)
      stopListening.push(server.onMessage('rss-cap', () => started.send({ type: 'stop' })))
      started.send({ type: 'go' })
      await started.waitFor('published', capMs)
      const end = await server.request('mem', 10_000)
      const { stepMs, rss } = await server.request('timeline', 10_000)
      timeline = { stepMs, rss }
      started.send({ type: 'finish' })
      figures.rssStart = start.rss
      figures.peakRss = end.peakRss
      figures.rssGrowth = end.peakRss - start.rss
      figures.rssFinalGrowth = end.rss - start.rss
      figures.retainedGrowth = end.heapUsed + end.external - (start.heapUsed + start.external)
      for (const [key, value] of Object.entries(end.stats ?? {})) if (typeof value === 'number') figures[`server.${key}`] = value
    }
    if (scenario.cpuPerOp === true) {
      // The load marks its measured window; the server's CPU time is read at both marks.
      await started.waitFor('window-start', capMs)
      const [cpuStart, ...sideStart] = await Promise.all([server.request('cpu', 10_000), ...sides.map((side) => side.request('mark', 10_000))])
      await started.waitFor('window-end', capMs)
      const [cpuEnd, ...sideEnd] = await Promise.all([server.request('cpu', 10_000), ...sides.map((side) => side.request('mark', 10_000))])
      figures.serverCpuUs = cpuEnd.us - cpuStart.us
      if (sides.length > 0) {
        figures.sideDelivered = sideEnd.reduce((sum, mark, i) => sum + mark.delivered - (sideStart[i]?.delivered ?? 0), 0)
        figures.sideCpuUs = sideEnd.reduce((sum, mark, i) => sum + mark.cpuUs - (sideStart[i]?.cpuUs ?? 0), 0)
      }
    }
    const result = await started.waitFor('result', capMs + 5_000)
    if (scenario.serverMemory === 'peak') figures.peakRss = (await server.request('mem', 10_000)).peakRss
    for (const [key, value] of Object.entries(result)) if (typeof value === 'number') figures[key] ??= value
    if (figures.sideDelivered !== undefined && figures.sideCpuUs !== undefined && figures.delivered !== undefined && figures.delivered > 0) {
      // The other loads' deliveries in the same window (marked within milliseconds of the
      // main load's marks): the rate scales by the total over the main load's share.
      const total = figures.delivered + figures.sideDelivered
      figures.deliveredPerSec = ((figures.deliveredPerSec ?? 0) * total) / figures.delivered
      figures.delivered = total
      figures.ops = total
      figures.loadCpuUs = (figures.loadCpuUs ?? 0) + figures.sideCpuUs
    }
    const { serverCpuUs, loadCpuUs, ops } = figures
    if (serverCpuUs !== undefined && loadCpuUs !== undefined && ops !== undefined && ops > 0) {
      figures.serverCpuPerOp = serverCpuUs / ops
      figures.loadCpuPerOp = loadCpuUs / ops
    }
    return timeline === undefined ? { figures } : { figures, timeline }
  } finally {
    for (const stop of stopListening) stop()
    for (const side of sides) side.send({ type: 'stop' })
    caller?.send({ type: 'stop' })
    await Promise.all([...sides, ...(caller === undefined ? [] : [caller])].map((child) => child.stop(3_000)))
    await load?.stop(3_000)
    await server.stop(0)
  }
}

/**
 * One run of connection-storm: fresh server, `params.loads` load processes that each make
 * their share of the clients ready to go, then one "go" to all of them at once. The server's
 * CPU time is read at the go and once every load has all its subscriptions confirmed.
 * @param {import('./systems.js').System} system
 * @param {import('./scenarios.js').Scenario} scenario
 * @param {Record<string, number>} params
 * @returns {Promise<Record<string, number>>}
 */
async function runStorm(system, scenario, params) {
  const capMs = scenario.capMs(params)
  const label = `${scenario.name}/${system.name}`
  const server = startChild(join(SRC, 'servers', `${system.server ?? system.name}.js`), {
    params: { capMs: capMs + 10_000, scenario: scenario.name },
    nodeArgs: ['--expose-gc'],
    label: `${label} server`,
  })
  const count = Math.max(1, params.loads ?? 1)
  /** @type {import('./lib/children.js').Child[]} */
  const loads = []
  try {
    const { port } = await server.waitFor('listening', 30_000)
    const total = params.subscribers ?? 0
    for (let i = 0; i < count; i++) {
      const share = Math.floor(total / count) + (i < total % count ? 1 : 0)
      loads.push(
        startChild(join(SRC, 'loads', `${system.load ?? system.name}.js`), {
          params: { ...params, subscribers: share, scenario: scenario.name, port, capMs, encoding: system.encoding },
          label: `${label} load ${i + 1}`,
        }),
      )
    }
    await Promise.all(loads.map((load) => load.waitFor('ready', capMs)))
    const before = await server.request('cpu', 10_000)
    for (const load of loads) load.send({ type: 'go' })
    const done = await Promise.all(loads.map((load) => load.waitFor('storm-done', capMs)))
    const after = await server.request('cpu', 10_000)
    const memory = await server.request('mem', 10_000)
    for (const load of loads) load.send({ type: 'stop' })
    const results = await Promise.all(loads.map((load) => load.waitFor('result', 10_000)))
    const clients = results.reduce((sum, r) => sum + r.clients, 0)
    const retries = results.reduce((sum, r) => sum + r.retries, 0)
    // Per-client times of all loads together: each load reports its sorted sample.
    const times = results.flatMap((r) => /** @type {number[]} */ (r.times)).sort((a, b) => a - b)
    const at = (/** @type {number} */ q) => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? NaN
    const serverCpuUs = after.us - before.us
    const loadCpuUs = results.reduce((sum, r) => sum + r.loadCpuUs, 0)
    return {
      allMs: Math.max(...done.map((d) => d.allMs)),
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      serverCpuMs: serverCpuUs / 1000,
      serverCpuPerClient: serverCpuUs / clients,
      loadCpuPerClient: loadCpuUs / clients,
      retries,
      clients,
      serverRss: memory.rss,
    }
  } finally {
    for (const load of loads) load.send({ type: 'stop' })
    await Promise.all(loads.map((load) => load.stop(3_000)))
    await server.stop(0)
  }
}

/** @param {import('./systems.js').System} system @param {import('./scenarios.js').Scenario} scenario */
function skipReason(system, scenario) {
  const missing = system.requires?.filter((file) => !existsSync(join(ROOT, file))) ?? []
  if (missing.length > 0) return `not built (${missing.join(', ')} missing)`
  if (scenario.needs === 'topics' && !system.topics) return 'no topics yet'
  if (scenario.needs === 'streams' && !system.streams) return 'no streams yet'
  return undefined
}

/**
 * For each pair in systems.js with both systems in this scenario: the paired median
 * (lib/stats.js) of system A's first figure over system B's, keyed `A / B`; and, for a
 * scenario with CPU per operation, of each side's CPU per operation too, keyed
 * `A / B <label>` (below 1 is cheaper there).
 * @param {import('./scenarios.js').Scenario} scenario
 * @param {import('./lib/report.js').SystemSummary[]} rows
 * @returns {Record<string, number>}
 */
function pairedRatios(scenario, rows) {
  const headline = scenario.metrics[0]
  /** @type {Record<string, number>} */
  const paired = {}
  if (scenario.paired !== undefined) {
    // The scenario's own pairs, each of its listed figures keyed `A / B <label>`.
    const metrics = scenario.metrics.filter((m) => scenario.paired?.metrics.includes(m.key))
    for (const [a, b] of scenario.paired.pairs) {
      const runsA = rows.find((row) => row.system === a && row.error === undefined)?.perRun
      const runsB = rows.find((row) => row.system === b && row.error === undefined)?.perRun
      if (runsA === undefined || runsB === undefined) continue
      for (const { key, label } of metrics) {
        const ratio = pairedMedian(runsA, runsB, (x, y) => (x[key] ?? NaN) / (y[key] ?? NaN))
        if (!Number.isNaN(ratio)) paired[`${a} / ${b} ${label}`] = ratio
      }
    }
    return paired
  }
  if (headline === undefined || headline.better !== 'higher') return paired
  const cpu = scenario.cpuPerOp === true ? scenario.metrics.filter((m) => m.key.endsWith('CpuPerOp')) : []
  for (const [a, b] of pairs) {
    const runsA = rows.find((row) => row.system === a && row.error === undefined)?.perRun
    const runsB = rows.find((row) => row.system === b && row.error === undefined)?.perRun
    if (runsA === undefined || runsB === undefined) continue
    for (const metric of [headline, ...cpu]) {
      const key = metric.key
      const ratio = pairedMedian(runsA, runsB, (x, y) => (x[key] ?? NaN) / (y[key] ?? NaN))
      if (!Number.isNaN(ratio)) paired[metric === headline ? `${a} / ${b}` : `${a} / ${b} ${metric.label}`] = ratio
    }
  }
  return paired
}

const machine = describeMachine(BENCH)
const startedAt = new Date()
console.log(`Patchbay bench${quick ? ' (quick)' : ''}: ${runs} run(s) per system, round-robin`)
console.log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}\n`)

/** @type {Record<string, unknown>[]} */
const scenarioResults = []
let failures = 0

for (const scenario of scenarios.filter((s) => scenarioNames.includes(s.name))) {
  if (scenario.todo !== undefined) {
    console.log(`## ${scenario.name}: TODO — ${scenario.todo}\n`)
    scenarioResults.push({ name: scenario.name, todo: scenario.todo })
    continue
  }
  const params = scenario.params(quick)
  // Diagnostic systems run only in their own scenarios, and are not listed as skipped elsewhere.
  const eligible = systems.filter((s) => systemNames.includes(s.name) && (s.only === undefined || s.only.includes(scenario.name)))
  /** @type {Record<string, string>} */
  const skipped = {}
  const active = eligible.filter((system) => {
    const reason = skipReason(system, scenario)
    if (reason !== undefined) skipped[system.name] = reason
    return reason === undefined
  })
  /** @type {Map<string, Record<string, number>[]>} */
  const perRun = new Map(active.map((s) => [s.name, []]))
  /** @type {Map<string, { stepMs: number, rss: number[] }[]>} */
  const timelines = new Map(active.map((s) => [s.name, []]))
  /** @type {Map<string, string>} */
  const errors = new Map()
  const t0 = Date.now()
  for (let run = 0; run < runs; run++) {
    // Rotate the order every run so no system always goes first (or last).
    const order = active.map((_, i) => /** @type {import('./systems.js').System} */ (active[(i + run) % active.length]))
    for (const system of order) {
      if (errors.has(system.name)) continue
      try {
        const { figures, timeline } = await runOnce(system, scenario, params)
        perRun.get(system.name)?.push(figures)
        if (timeline !== undefined) timelines.get(system.name)?.push(timeline)
      } catch (error) {
        errors.set(system.name, error instanceof Error ? error.message : String(error))
      }
      process.stderr.write('.')
    }
  }
  process.stderr.write('\n')

  /** @type {import('./lib/report.js').SystemSummary[]} */
  const rows = active.map((system) => {
    const results = perRun.get(system.name) ?? []
    /** @type {Record<string, number>} */
    const med = {}
    for (const key of new Set(results.flatMap((r) => Object.keys(r)))) med[key] = median(results.map((r) => r[key] ?? NaN))
    for (const metric of scenario.metrics) {
      if (metric.summarize !== undefined && results.length > 0) med[metric.key] = metric.summarize(results.map((r) => r[metric.key] ?? NaN))
    }
    const headline = scenario.metrics[0]?.key ?? ''
    /** @type {import('./lib/report.js').SystemSummary} */
    const row = {
      system: system.name,
      baseline: system.baseline,
      runs: results.length,
      median: med,
      ratio: {},
      spread: spread(results.map((r) => r[headline] ?? NaN)),
      perRun: results,
    }
    const error = errors.get(system.name)
    if (error !== undefined) row.error = error
    const runTimelines = timelines.get(system.name) ?? []
    // The server's RSS over each run, from the start of publishing: MiB per step.
    if (runTimelines.length > 0) {
      row.rssTimeline = runTimelines.map(({ stepMs, rss }) => ({ stepMs, mib: rss.map((v) => Math.round(v / 104857.6) / 10) }))
    }
    return row
  })
  for (const row of rows) {
    const base = rows.find((r) => r.system === row.baseline && r.error === undefined)
    for (const metric of scenario.metrics) {
      if (metric.ratio === false) continue
      const value = row.median[metric.key]
      const baseValue = base?.median[metric.ratioTo ?? metric.key]
      // Growth figures can be zero or negative: a ratio to those says nothing.
      row.ratio[metric.key] = value !== undefined && baseValue !== undefined && baseValue > 0 && value >= 0 ? value / baseValue : null
    }
  }
  failures += errors.size

  console.log(`## ${scenario.name}: ${scenario.summary}`)
  console.log(`params ${JSON.stringify(params)}; medians of ${runs} run(s) in ${((Date.now() - t0) / 1000).toFixed(0)} s`)
  console.log('× = ratio to raw ws of the same encoding (column "vs": ws-json for JSON systems, ws-msgpack for msgpack systems)')
  if (scenario.legend !== undefined) console.log(scenario.legend)
  console.log('')
  console.log(formatTable(scenario, rows))
  for (const row of rows) {
    const note = scenario.note?.(row, params)
    if (note !== undefined) console.log(`  ${note}`)
  }
  const paired = pairedRatios(scenario, rows)
  if (Object.keys(paired).length > 0) {
    const what = scenario.paired !== undefined ? 'each figure named' : `${scenario.metrics[0]?.label ?? 'the first figure'}${scenario.cpuPerOp === true ? ' and of CPU per op' : ''}`
    console.log(`  paired ratios of ${what} (median of each round's ratio):`)
    for (const [pair, ratio] of Object.entries(paired)) console.log(`    ${pair.padEnd(66)} ${ratio.toFixed(2)}×`)
  }
  for (const [name, reason] of Object.entries(skipped)) console.log(`  skipped ${name}: ${reason}`)
  for (const [name, message] of errors) console.log(`  FAILED ${name}: ${message.split('\n').slice(0, 8).join('\n    ')}`)
  console.log('')
  scenarioResults.push({ name: scenario.name, summary: scenario.summary, params, metrics: scenario.metrics.map(({ key, label, better }) => ({ key, label, better })), systems: rows, paired, skipped })
}

const report = {
  date: startedAt.toISOString(),
  durationSec: Math.round((Date.now() - startedAt.getTime()) / 1000),
  quick,
  runs,
  machine,
  scenarios: scenarioResults,
}
mkdirSync(dirname(out), { recursive: true })
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`)
console.log(`results written to ${out}`)
process.exitCode = failures > 0 ? 1 : 0
