// Reads bench/results/latest.json when the site builds (and again when it changes under
// `npm run docs`), keeping only what the charts draw: each scenario's metrics and each
// system's medians. Nothing here names a scenario, system or metric, so a scenario added
// to the run (with its `metrics` list) is charted without a change here.
import { readFileSync } from 'node:fs'
import { defineLoader } from 'vitepress'

/** One figure a scenario reports, as bench/src/run.js writes it. */
export interface BenchMetric {
  key: string
  label: string
  /** Which way is better; absent for a descriptive figure. */
  better?: 'higher' | 'lower'
}

export interface BenchSystem {
  system: string
  /** The raw-ws system of the same encoding its ratios are to. */
  baseline?: string
  runs?: number
  median: Record<string, number | null>
}

export interface BenchScenario {
  name: string
  summary?: string
  metrics: BenchMetric[]
  systems: BenchSystem[]
}

export interface BenchResults {
  date?: string
  runs?: number
  quick?: boolean
  machine?: { cpu?: string; cores?: number; node?: string }
  scenarios: BenchScenario[]
}

declare const data: BenchResults
export { data }

const RESULTS = '../../bench/results/latest.json'

export default defineLoader({
  watch: [RESULTS],
  load(files: string[]): BenchResults {
    const file = files[0] ?? new URL(RESULTS, import.meta.url).pathname
    const raw = JSON.parse(readFileSync(file, 'utf8')) as Partial<BenchResults>
    return {
      ...(raw.date === undefined ? {} : { date: raw.date }),
      ...(raw.runs === undefined ? {} : { runs: raw.runs }),
      ...(raw.quick === undefined ? {} : { quick: raw.quick }),
      ...(raw.machine === undefined ? {} : { machine: { cpu: raw.machine.cpu, cores: raw.machine.cores, node: raw.machine.node } as BenchResults['machine'] }),
      scenarios: (raw.scenarios ?? []).map((scenario) => ({
        name: scenario.name,
        ...(scenario.summary === undefined ? {} : { summary: scenario.summary }),
        metrics: (scenario.metrics ?? []).map(({ key, label, better }) => ({ key, label: label ?? key, ...(better === undefined ? {} : { better }) })),
        systems: (scenario.systems ?? []).map(({ system, baseline, runs, median }) => ({
          system,
          ...(baseline === undefined ? {} : { baseline }),
          ...(runs === undefined ? {} : { runs }),
          median: median ?? {},
        })),
      })),
    }
  },
})
