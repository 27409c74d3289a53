/**
 * Keeps the resume storm (bench/src/scale-storm.js) from rotting, and holds it to what it
 * checks: a small storm (50 subscribers on 10 channels through the runner's TCP proxy, node A
 * SIGKILLed, every client back on node B) must end with every Patchbay subscriber caught up,
 * nothing missed and nothing doubled (history covers the outage: docs/protocol.md §12.1).
 * No timing is asserted: speed is measured by `npm run bench:storm -w bench`.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

interface Result {
  systems: { system: string; runs: number; error?: string; median: Record<string, number> }[]
}

describe('resume storm smoke run', () => {
  it('brings every Patchbay subscriber back on node B with no gap and no duplicate', { timeout: 60_000 }, async () => {
    const bench = dirname(createRequire(import.meta.url).resolve('@patchbay/bench/package.json'))
    const out = join(mkdtempSync(join(tmpdir(), 'patchbay-storm-')), 'storm.json')
    await promisify(execFile)(process.execPath, ['src/scale-storm.js', '--quick', '--systems', 'patchbay', '--out', out], {
      cwd: bench,
      timeout: 55_000,
      env: { ...process.env, BENCH_STORM_CLIENTS: '50', BENCH_STORM_CHANNELS: '10' },
    })
    const result = JSON.parse(readFileSync(out, 'utf8')) as Result
    const [row] = result.systems
    expect(row?.error).toBeUndefined()
    expect(row?.runs).toBe(1)
    expect(row?.median.caughtPct).toBe(100)
    expect(row?.median.reconnects).toBe(50)
    expect(row?.median.missed).toBe(0)
    expect(row?.median.duplicates).toBe(0)
    expect(row?.median.lags).toBe(0)
    expect(row?.median.pubFailures).toBe(0)
  })
})
