/**
 * Keeps the benchmark harness from rotting: a quick run of the RPC scenarios, in separate
 * server and load processes, must finish and report positive figures for Patchbay and raw
 * ws. No timing is asserted: speed is measured by `npm run bench`, never by the suite.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

interface Result {
  scenarios: { name: string; systems: { system: string; median: Record<string, number> }[] }[]
}

describe('bench harness smoke run', () => {
  it('runs the RPC scenarios for raw ws and Patchbay in both encodings', { timeout: 120_000 }, async () => {
    const bench = dirname(createRequire(import.meta.url).resolve('@patchbay/bench/package.json'))
    const out = join(mkdtempSync(join(tmpdir(), 'patchbay-bench-')), 'smoke.json')
    const systems = ['ws-json', 'patchbay-json', 'ws-msgpack', 'patchbay-msgpack']
    await promisify(execFile)(
      process.execPath,
      ['src/run.js', '--quick', '--scenarios', 'rpc-throughput,rpc-latency', '--systems', systems.join(','), '--out', out],
      { cwd: bench, timeout: 110_000 },
    )
    const result = JSON.parse(readFileSync(out, 'utf8')) as Result
    expect(result.scenarios.map((scenario) => scenario.name)).toEqual(['rpc-throughput', 'rpc-latency'])
    for (const scenario of result.scenarios) {
      expect(scenario.systems.map((row) => row.system)).toEqual(systems)
      for (const row of scenario.systems) {
        for (const value of Object.values(row.median)) expect(value).toBeGreaterThan(0)
      }
    }
  })
})
