/**
 * Keeps the benchmark harness from rotting: a quick run of the RPC scenarios, in separate
 * server and load processes, and one of latency-under-load (server, two load processes and
 * the caller), must finish and report positive figures for Patchbay and raw ws. No timing
 * is asserted: speed is measured by `npm run bench`, never by the suite.
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

  it('runs latency-under-load, its calls made by a caller process of their own, for raw ws and Patchbay', { timeout: 120_000 }, async () => {
    // The runner starts the caller beside the load processes and relays the main load's
    // requests for calls to it (bench/src/run.js, drivers.js latencyCaller): a run that
    // reports every figure went through both steps of calls (idle and under load).
    const bench = dirname(createRequire(import.meta.url).resolve('@patchbay/bench/package.json'))
    const out = join(mkdtempSync(join(tmpdir(), 'patchbay-bench-')), 'lul.json')
    const systems = ['ws-json-cork', 'patchbay-msgpack']
    await promisify(execFile)(
      process.execPath,
      ['src/run.js', '--quick', '--scenarios', 'latency-under-load', '--systems', systems.join(','), '--out', out],
      { cwd: bench, timeout: 110_000 },
    )
    const result = JSON.parse(readFileSync(out, 'utf8')) as Result
    const [scenario] = result.scenarios
    expect(scenario?.name).toBe('latency-under-load')
    expect(scenario?.systems.map((row) => row.system)).toEqual(systems)
    for (const row of scenario?.systems ?? []) {
      for (const key of ['p50Us', 'p99Us', 'p999Us', 'calls', 'idleP99Us', 'idleCalls', 'maxDeliveredPerSec', 'deliveredPerSec', 'serverCpuPerOp', 'loadCpuPerOp']) {
        expect(row.median[key], `${row.system} ${key}`).toBeGreaterThan(0)
      }
    }
  })
})
