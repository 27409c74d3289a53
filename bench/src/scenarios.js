/**
 * The scenarios: their parameters (full and --quick), the figures they report, and what the
 * runner measures on the server side. Parameters can be overridden from the environment
 * where noted; every loop they drive is bounded by a count and a time.
 */

/**
 * @typedef {object} Metric
 * @property {string} key field of the load's (or runner's) result
 * @property {string} label column title
 * @property {'higher' | 'lower'} better
 * @property {(value: number) => string} format
 */

/**
 * @typedef {object} Scenario
 * @property {string} name
 * @property {string} summary one line for the table title
 * @property {'rpc' | 'topics'} needs
 * @property {'none' | 'idle' | 'peak'} serverMemory idle: settled RSS before and after the
 *   load's sockets are open; peak: the server's sampled peak RSS at the end
 * @property {(quick: boolean) => Record<string, number>} params
 * @property {(params: Record<string, number>) => number} capMs hard cap of one run
 * @property {Metric[]} metrics the first one is the headline figure
 * @property {string} [todo] why the scenario is not implemented yet
 */

/** @param {string} name @param {number} fallback */
function envInt(name, fallback) {
  const value = Number.parseInt(process.env[name] ?? '', 10)
  return Number.isFinite(value) && value > 0 ? value : fallback
}

const rate = (/** @type {number} */ v) => Math.round(v).toLocaleString('en-US')
const micros = (/** @type {number} */ v) => `${v.toFixed(0)} µs`
const bytes = (/** @type {number} */ v) => `${(v / 1024).toFixed(1)} KiB`
const mebibytes = (/** @type {number} */ v) => `${(v / 1048576).toFixed(1)} MiB`

/** @type {Scenario[]} */
export const scenarios = [
  {
    name: 'rpc-throughput',
    summary: 'one socket, 64 calls in flight, add(a, b)',
    needs: 'rpc',
    serverMemory: 'none',
    params: (quick) => ({
      inFlight: 64,
      warmupMs: quick ? 100 : 500,
      measureMs: quick ? 300 : 2_000,
      maxCalls: 50_000_000,
    }),
    capMs: (p) => (p.warmupMs ?? 0) + (p.measureMs ?? 0) + 10_000,
    metrics: [{ key: 'callsPerSec', label: 'calls/s', better: 'higher', format: rate }],
  },
  {
    name: 'rpc-latency',
    summary: 'one socket, one call in flight, add(a, b)',
    needs: 'rpc',
    serverMemory: 'none',
    params: (quick) => ({
      warmupCalls: quick ? 200 : 2_000,
      calls: quick ? 500 : envInt('BENCH_LATENCY_CALLS', 10_000),
      maxMs: quick ? 2_000 : 3_000,
    }),
    capMs: (p) => (p.maxMs ?? 0) * 2 + 10_000,
    metrics: [
      { key: 'p50Us', label: 'p50', better: 'lower', format: micros },
      { key: 'p99Us', label: 'p99', better: 'lower', format: micros },
    ],
  },
  {
    name: 'idle-memory',
    summary: 'server memory per idle connection (each made one call), after GC',
    needs: 'rpc',
    serverMemory: 'idle',
    params: (quick) => ({
      connections: quick ? 50 : envInt('BENCH_CONNECTIONS', 2_000),
      openConcurrency: 50,
      maxMs: 30_000,
      holdMs: 20_000,
    }),
    capMs: (p) => (p.maxMs ?? 0) + (p.holdMs ?? 0) + 10_000,
    metrics: [
      { key: 'rssPerConn', label: 'RSS/conn', better: 'lower', format: bytes },
      { key: 'heapPerConn', label: 'heap+ext/conn', better: 'lower', format: bytes },
    ],
  },
  {
    name: 'fan-out',
    summary: 'one publisher, subscribers on one topic, ~100-byte messages',
    needs: 'topics',
    serverMemory: 'peak',
    params: (quick) => ({
      subscribers: quick ? 20 : envInt('BENCH_SUBSCRIBERS', 200),
      bodyBytes: 80,
      window: 64,
      burst: 16,
      openConcurrency: 50,
      warmupMs: quick ? 100 : 500,
      measureMs: quick ? 300 : 2_000,
      maxMessages: 10_000_000,
      maxMs: 30_000,
    }),
    capMs: (p) => (p.maxMs ?? 0) + (p.warmupMs ?? 0) + (p.measureMs ?? 0) + 10_000,
    metrics: [
      { key: 'deliveredPerSec', label: 'delivered msg/s', better: 'higher', format: rate },
      { key: 'peakRss', label: 'server peak RSS', better: 'lower', format: mebibytes },
    ],
  },
  {
    name: 'slow-consumer',
    summary: 'one stalled subscriber among fast ones',
    needs: 'topics',
    serverMemory: 'peak',
    params: () => ({}),
    capMs: () => 0,
    metrics: [],
    todo: 'needs backpressure on Patchbay topics (issue 6 grows with them)',
  },
  {
    name: 'stream-throughput',
    summary: 'one server-to-client stream',
    needs: 'topics',
    serverMemory: 'none',
    params: () => ({}),
    capMs: () => 0,
    metrics: [],
    todo: 'Patchbay has no streams yet',
  },
]
