/**
 * Folds the scenarios of separate runs into one results file, so a scenario run on its own
 * (`--out results/large-messages.json`) can join `results/latest.json` without a full run:
 *
 *   node src/tools/merge-results.js results/latest.json results/large-messages.json [...]
 *
 * A scenario of the same name in the target is replaced, a new one appended. Each merged
 * scenario keeps the `date`, `runs` and `machine` of the run it came from, at the scenario
 * level (the target's own top-level fields stay those of its run); nothing else changes,
 * so readers of the schema (bench/README.md, Output) see the same scenario entries.
 */
import { readFileSync, writeFileSync } from 'node:fs'

const [target, ...sources] = process.argv.slice(2)
if (target === undefined || sources.length === 0) {
  console.error('usage: node src/tools/merge-results.js <target.json> <source.json> [...]')
  process.exit(2)
}

/** @type {{ scenarios: Record<string, unknown>[] } & Record<string, unknown>} */
const merged = JSON.parse(readFileSync(target, 'utf8'))
for (const source of sources) {
  /** @type {{ date: string, runs: number, machine: unknown, scenarios: Record<string, unknown>[] }} */
  const run = JSON.parse(readFileSync(source, 'utf8'))
  for (const scenario of run.scenarios) {
    const entry = { ...scenario, date: run.date, runs: run.runs, machine: run.machine }
    const at = merged.scenarios.findIndex((s) => s.name === scenario.name)
    if (at === -1) merged.scenarios.push(entry)
    else merged.scenarios[at] = entry
    console.log(`${at === -1 ? 'added' : 'replaced'} ${String(scenario.name)} from ${source}`)
  }
}
writeFileSync(target, `${JSON.stringify(merged, null, 2)}\n`)
