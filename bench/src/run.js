/**
 * The bench runner. For each scenario it runs every system several times, round-robin (so
 * drift of the machine spreads over all systems evenly), each run in two fresh processes:
 * the server and the load, both on 127.0.0.1. It prints one table per scenario with medians
 * and ratios to raw ws of the same encoding, and writes the results as JSON.
 *
 *   node src/run.js [--quick] [--runs N] [--scenarios a,b] [--systems a,b] [--out file]
 *
 * Environment: BENCH_RUNS, BENCH_QUICK=1, BENCH_SCENARIOS, BENCH_SYSTEMS, BENCH_CONNECTIONS,
 * BENCH_SUBSCRIBERS, BENCH_LATENCY_CALLS.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startChild } from './lib/children.js'
import { describeMachine } from './lib/machine.js'
import { formatTable } from './lib/report.js'
import { median, spread } from './lib/stats.js'
import { scenarios } from './scenarios.js'
import { systems } from './systems.js'

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
  const names = list.split(',').map((s) => s.trim())
  for (const name of names) if (!known.includes(name)) throw new Error(`unknown ${what} "${name}"; known: ${known.join(', ')}`)
  return names
}
const scenarioNames = pick(args.scenarios, scenarios.map((s) => s.name), 'scenario')
const systemNames = pick(args.systems, systems.map((s) => s.name), 'system')

/**
 * One run of one system in one scenario: fresh server, fresh load.
 * @param {import('./systems.js').System} system
 * @param {import('./scenarios.js').Scenario} scenario
 * @param {Record<string, number>} params
 * @returns {Promise<Record<string, number>>}
 */
async function runOnce(system, scenario, params) {
  const capMs = scenario.capMs(params)
  const label = `${scenario.name}/${system.name}`
  const server = startChild(join(SRC, 'servers', `${system.name}.js`), {
    params: { capMs: capMs + 10_000 },
    nodeArgs: ['--expose-gc'],
    label: `${label} server`,
  })
  /** @type {import('./lib/children.js').Child | undefined} */
  let load
  try {
    const { port } = await server.waitFor('listening', 10_000)
    const before = scenario.serverMemory === 'idle' ? await server.request('mem', 10_000) : undefined
    load = startChild(join(SRC, 'loads', `${system.name}.js`), {
      params: { ...params, scenario: scenario.name, port, capMs },
      label: `${label} load`,
    })
    /** @type {Record<string, number>} */
    const figures = {}
    if (scenario.serverMemory === 'idle' && before !== undefined) {
      const ready = await load.waitFor('ready', capMs)
      const after = await server.request('mem', 10_000)
      load.send({ type: 'stop' })
      figures.rssPerConn = (after.rss - before.rss) / ready.connections
      figures.heapPerConn = (after.heapUsed + after.external - before.heapUsed - before.external) / ready.connections
    }
    const result = await load.waitFor('result', capMs + 5_000)
    if (scenario.serverMemory === 'peak') figures.peakRss = (await server.request('mem', 10_000)).peakRss
    for (const [key, value] of Object.entries(result)) if (typeof value === 'number') figures[key] ??= value
    return figures
  } finally {
    await load?.stop(3_000)
    await server.stop(0)
  }
}

/** @param {import('./systems.js').System} system @param {import('./scenarios.js').Scenario} scenario */
function skipReason(system, scenario) {
  const missing = system.requires?.filter((file) => !existsSync(join(ROOT, file))) ?? []
  if (missing.length > 0) return `not built (${missing.join(', ')} missing)`
  if (scenario.needs === 'topics' && !system.topics) return 'no topics yet'
  return undefined
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
  const eligible = systems.filter((s) => systemNames.includes(s.name))
  /** @type {Record<string, string>} */
  const skipped = {}
  const active = eligible.filter((system) => {
    const reason = skipReason(system, scenario)
    if (reason !== undefined) skipped[system.name] = reason
    return reason === undefined
  })
  /** @type {Map<string, Record<string, number>[]>} */
  const perRun = new Map(active.map((s) => [s.name, []]))
  /** @type {Map<string, string>} */
  const errors = new Map()
  const t0 = Date.now()
  for (let run = 0; run < runs; run++) {
    // Rotate the order every run so no system always goes first (or last).
    const order = active.map((_, i) => /** @type {import('./systems.js').System} */ (active[(i + run) % active.length]))
    for (const system of order) {
      if (errors.has(system.name)) continue
      try {
        perRun.get(system.name)?.push(await runOnce(system, scenario, params))
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
    return row
  })
  for (const row of rows) {
    const base = rows.find((r) => r.system === row.baseline && r.error === undefined)
    for (const metric of scenario.metrics) {
      const value = row.median[metric.key]
      const baseValue = base?.median[metric.key]
      row.ratio[metric.key] = value !== undefined && baseValue !== undefined && baseValue !== 0 ? value / baseValue : null
    }
  }
  failures += errors.size

  console.log(`## ${scenario.name}: ${scenario.summary}`)
  console.log(`params ${JSON.stringify(params)}; medians of ${runs} run(s) in ${((Date.now() - t0) / 1000).toFixed(0)} s`)
  console.log('× = ratio to raw ws of the same encoding (column "vs": ws-json for JSON systems, ws-msgpack for msgpack systems)\n')
  console.log(formatTable(scenario, rows))
  for (const [name, reason] of Object.entries(skipped)) console.log(`  skipped ${name}: ${reason}`)
  for (const [name, message] of errors) console.log(`  FAILED ${name}: ${message.split('\n').slice(0, 8).join('\n    ')}`)
  console.log('')
  scenarioResults.push({ name: scenario.name, summary: scenario.summary, params, metrics: scenario.metrics.map(({ key, label, better }) => ({ key, label, better })), systems: rows, skipped })
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
