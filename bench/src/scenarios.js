/**
 * The scenarios: their parameters (full and --quick), the figures they report, and what the
 * runner measures on the server side. Parameters can be overridden from the environment
 * where noted; every loop they drive is bounded by a count and a time.
 */

/**
 * @typedef {object} Metric
 * @property {string} key field of the load's (or runner's) result
 * @property {string} label column title
 * @property {'higher' | 'lower'} [better] absent for a figure that is not a quantity
 * @property {(value: number) => string} format
 * @property {string} [ratioTo] the baseline's figure the ratio divides by (default: `key`)
 * @property {false} [ratio] no ratio column for this figure (it is not a quantity)
 * @property {(values: number[]) => number} [summarize] how the runs' figures become one
 *   (default: the median)
 */

/**
 * @typedef {object} Scenario
 * @property {string} name
 * @property {string} summary one line for the table title
 * @property {'rpc' | 'topics' | 'streams'} needs
 * @property {'none' | 'idle' | 'peak' | 'publish'} serverMemory idle: settled RSS before
 *   and after the load's sockets are open; peak: the server's sampled peak RSS at the end;
 *   publish: settled memory when the load is ready to publish and when it has published,
 *   the sampled peak and RSS timeline in between, and a stop for the load if the server
 *   passes `rssCap` bytes (see the slow-consumer driver)
 * @property {(quick: boolean) => Record<string, number>} params
 * @property {(params: Record<string, number>) => Record<string, number>} [serverParams]
 *   what the server process is told (beyond its time cap)
 * @property {(params: Record<string, number>) => number} capMs hard cap of one run
 * @property {boolean} [cpuPerOp] the load marks its measured window and reports `ops`: the
 *   runner adds the server's and the load's CPU time per operation (user + system)
 * @property {Metric[]} metrics the first one is the headline figure
 * @property {(row: import('./lib/report.js').SystemSummary, params: Record<string, number>) => string | undefined} [note]
 *   a line printed under the table for a system, if it says something
 * @property {string} [legend] printed above the table: what its columns mean
 * @property {string} [todo] why the scenario is not implemented yet
 * @property {boolean} [relaySides] with subscribers over several load processes, the runner
 *   tells the main load every 20 ms what the others have received (`sides` messages), so it
 *   can pace on all of them
 * @property {boolean} [caller] the measured calls are made by a process of their own (the
 *   load file run as `latency-caller`): the runner starts it beside the load processes and
 *   relays the main load's `calls` requests to it and its answers back (run.js)
 * @property {'storm'} [drive] the runner drives the loads in steps of its own (run.js):
 *   `storm` starts every load process, then tells them all to go at once
 * @property {{ pairs: readonly (readonly [string, string])[], metrics: string[] }} [paired]
 *   the pairs (and figures) this scenario's paired ratios are taken of, instead of issue 6's
 *   pairs and the headline figure (systems.js)
 */

/** @param {string} name @param {number} fallback */
function envInt(name, fallback) {
  const value = Number.parseInt(process.env[name] ?? '', 10)
  return Number.isFinite(value) && value > 0 ? value : fallback
}

const rate = (/** @type {number} */ v) => Math.round(v).toLocaleString('en-US')
const micros = (/** @type {number} */ v) => `${v.toFixed(0)} µs`
const cpuMicros = (/** @type {number} */ v) => `${v.toFixed(2)} µs`
/** CPU time per operation in the measured window, of the server and of the load process. */
const cpuMetrics = (/** @type {string} */ op) => [
  { key: 'serverCpuPerOp', label: `server CPU/${op}`, better: /** @type {const} */ ('lower'), format: cpuMicros },
  { key: 'loadCpuPerOp', label: `load CPU/${op}`, better: /** @type {const} */ ('lower'), format: cpuMicros },
]
const bytes = (/** @type {number} */ v) => `${(v / 1024).toFixed(1)} KiB`
const mebibytes = (/** @type {number} */ v) => `${(v / 1048576).toFixed(1)} MiB`
const signedMebibytes = (/** @type {number} */ v) => `${v >= 0 ? '+' : '−'}${(Math.abs(v) / 1048576).toFixed(1)} MiB`
const percent = (/** @type {number} */ v) => `${(v * 100).toFixed(0)}%`
/** A close code seen by the stalled subscriber, 0: still open, -1: runs disagreed. */
const closeCode = (/** @type {number} */ v) => (v === 0 ? 'open' : v < 0 ? 'mixed' : `closed ${v.toFixed(0)}`)

/**
 * The most frequent value, or -1 when two values tie for it (for codes, not quantities).
 * @param {number[]} values
 */
function mode(values) {
  /** @type {Map<number, number>} */
  const counts = new Map()
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1)
  const ranked = [...counts].sort((a, b) => b[1] - a[1])
  const [first, second] = ranked
  if (first === undefined) return NaN
  return second !== undefined && second[1] === first[1] ? -1 : first[0]
}

const MiB = 1_048_576

const mibPerSec = (/** @type {number} */ v) => `${v.toFixed(1)} MiB/s`
const cpuMillis = (/** @type {number} */ v) => `${(v / 1000).toFixed(2)} ms`
const millis = (/** @type {number} */ v) => `${Math.round(v).toLocaleString('en-US')} ms`

/**
 * Large messages: one socket, `inFlight` echo calls of a `payloadBytes` payload always in
 * flight (a JSON string, or a msgpack `Uint8Array`: bin on the wire), each answered with the
 * same payload, so every byte crosses both ways. Figures per MiB of payload moved (both
 * directions counted).
 * @param {string} name
 * @param {number} payloadBytes
 * @param {number} inFlight
 * @returns {Scenario}
 */
function largeMessages(name, payloadBytes, inFlight) {
  return {
    name,
    summary: `one socket, ${inFlight} echo calls of a ${payloadBytes >= MiB ? `${payloadBytes / MiB} MiB` : `${payloadBytes / 1024} KiB`} payload in flight (JSON: a string; msgpack: a Uint8Array)`,
    needs: 'rpc',
    serverMemory: 'none',
    params: (quick) => ({
      payloadBytes,
      inFlight,
      warmupMs: quick ? 100 : 500,
      measureMs: quick ? 300 : 2_000,
      maxCalls: 10_000_000,
      // Patchbay's maxPayload (1 MiB by default) and socket.io's maxHttpBufferSize (1 MB)
      // refuse a 1 MiB payload in its envelope: both servers are given 2 MiB plus the payload.
      maxPayload: payloadBytes + 2 * MiB,
    }),
    serverParams: (p) => ({ maxPayload: p.maxPayload ?? 0 }),
    capMs: (p) => (p.warmupMs ?? 0) + (p.measureMs ?? 0) + 15_000,
    cpuPerOp: true,
    legend: 'MiB/s: payload bytes moved per second, both directions (each call carries the payload out and back); CPU/MiB: CPU time per MiB of payload moved',
    metrics: [{ key: 'mibPerSec', label: 'MiB/s', better: 'higher', format: mibPerSec }, ...cpuMetrics('MiB').map((m) => ({ ...m, format: cpuMillis }))],
    paired: { pairs: peerPairs, metrics: ['mibPerSec', 'serverCpuPerOp', 'loadCpuPerOp'] },
  }
}

/**
 * Patchbay over each peer of its encoding, paired: the raw ws floor, socket.io, tRPC (JSON).
 * @type {readonly (readonly [string, string])[]}
 */
const peerPairs = ['json', 'msgpack'].flatMap((encoding) => [
  /** @type {const} */ ([`patchbay-${encoding}`, `ws-${encoding}`]),
  /** @type {const} */ ([`patchbay-${encoding}`, `ws-${encoding}-cork`]),
  /** @type {const} */ ([`patchbay-${encoding}`, encoding === 'json' ? 'socketio' : 'socketio-msgpack']),
  ...(encoding === 'json' ? [/** @type {const} */ (['patchbay-json', 'trpc'])] : []),
])

/** @type {Scenario[]} */
export const scenarios = [
  {
    name: 'rpc-throughput',
    summary: 'one socket, 64 calls in flight, add(a, b)',
    needs: 'rpc',
    serverMemory: 'none',
    params: (quick) => ({
      inFlight: envInt('BENCH_IN_FLIGHT', 64),
      warmupMs: quick ? 100 : 500,
      measureMs: quick ? 300 : 2_000,
      maxCalls: 50_000_000,
    }),
    capMs: (p) => (p.warmupMs ?? 0) + (p.measureMs ?? 0) + 10_000,
    cpuPerOp: true,
    metrics: [{ key: 'callsPerSec', label: 'calls/s', better: 'higher', format: rate }, ...cpuMetrics('call')],
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
      // Load processes the subscribers are spread over (the first also publishes): with one,
      // a fast server waits on its clients and a server-side gain shows only in its CPU/msg.
      loads: envInt('BENCH_FANOUT_LOADS', 1),
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
    cpuPerOp: true,
    metrics: [
      { key: 'deliveredPerSec', label: 'delivered msg/s', better: 'higher', format: rate },
      { key: 'peakRss', label: 'server peak RSS', better: 'lower', format: mebibytes },
      ...cpuMetrics('msg'),
    ],
  },
  {
    name: 'slow-consumer',
    summary: 'fan-out to fast subscribers plus one stalled subscriber (stops reading once subscribed)',
    needs: 'topics',
    serverMemory: 'publish',
    params: (quick) => ({
      subscribers: quick ? 10 : envInt('BENCH_SLOW_SUBSCRIBERS', 50),
      // ~1 KiB messages, ten times fan-out's: a stalled peer on loopback first fills the
      // kernel's socket buffers (several MiB) before any server holds a byte for it, and at
      // ~100 bytes a slower machine published too little in the window to get past them.
      bodyBytes: envInt('BENCH_SLOW_BODY_BYTES', 1_000),
      window: 64,
      burst: 16,
      openConcurrency: 50,
      warmupMs: quick ? 100 : 500,
      measureMs: quick ? 500 : envInt('BENCH_SLOW_MEASURE_MS', 3_000),
      maxMessages: 10_000_000,
      maxMs: 30_000,
      // Patchbay's hard limit per connection, set explicitly (its default is 8 MiB) and low:
      // a stalled peer on loopback first fills the kernel's socket buffers (~3–4 MiB here)
      // before the server buffers anything, and at these rates the default limit would take
      // longer to reach than the window lasts. The high-water mark follows it down.
      maxBuffered: envInt('BENCH_MAX_BUFFERED', 256 * 1024),
      // A server past this RSS stops the run: unbounded growth is the finding, not a crash.
      rssCap: envInt('BENCH_RSS_CAP_MIB', 1_536) * MiB,
      probeMs: 3_000,
    }),
    serverParams: (p) => ({ maxBuffered: p.maxBuffered ?? 0, rssCap: p.rssCap ?? 0 }),
    legend:
      'RSS growth: from publishing start (settled) to the sampled peak and to the end (settled); heap+ext retained: V8 heap + external after GC, end minus start;\n' +
      'kept for stalled: what the stalled socket read once it read again (what the server had sent or queued for it, kernel buffers included) and its share of all published;\n' +
      'stalled socket: the close code the server sent it (Patchbay: 4507 past maxBuffered), or open',
    capMs: (p) => (p.maxMs ?? 0) + (p.warmupMs ?? 0) + (p.measureMs ?? 0) + (p.probeMs ?? 0) + 20_000,
    metrics: [
      { key: 'deliveredPerSec', label: 'fast subs msg/s', better: 'higher', format: rate },
      { key: 'rssGrowth', label: 'RSS growth, peak', better: 'lower', format: signedMebibytes },
      // No ratio for these two: the baselines' figures are often a fraction of a MiB, and a
      // ratio to noise reads like a finding.
      { key: 'rssFinalGrowth', label: 'RSS growth, end (GC)', format: signedMebibytes, ratio: false },
      { key: 'retainedGrowth', label: 'heap+ext retained (GC)', format: signedMebibytes, ratio: false },
      { key: 'stalledBacklogBytes', label: 'kept for stalled', format: mebibytes, ratio: false },
      { key: 'stalledKeptShare', label: 'of published', format: percent, ratio: false },
      { key: 'stalledClose', label: 'stalled socket', format: closeCode, ratio: false, summarize: mode },
    ],
    note: (row, p) => {
      const notes = []
      const capped = row.perRun.filter((r) => (r.stoppedEarly ?? 0) > 0)
      if (capped.length > 0) {
        const after = capped.map((r) => ((r.publishMs ?? 0) / 1000).toFixed(1)).join(', ')
        notes.push(`server RSS passed ${mebibytes(p.rssCap ?? 0)} in ${capped.length} of ${row.perRun.length} run(s), publishing stopped after ${after} s`)
      }
      const codes = row.perRun.map((r) => r.stalledClose ?? 0)
      if (new Set(codes).size > 1) notes.push(`the stalled socket per run: ${codes.map(closeCode).join(', ')}`)
      const partial = row.perRun.filter((r) => r.stalledBacklogComplete === 0).length
      if (partial > 0) notes.push(`the stalled socket's backlog was still being read when the probe ended in ${partial} run(s): "kept" is a lower bound`)
      return notes.length === 0 ? undefined : `${row.system}: ${notes.join('; ')}`
    },
  },
  {
    name: 'stream-throughput',
    summary: 'one socket, one server-to-client stream of {n, ts} items',
    needs: 'streams',
    serverMemory: 'none',
    params: (quick) => ({
      maxItems: 50_000_000,
      warmupMs: quick ? 100 : 500,
      measureMs: quick ? 300 : 2_000,
      // Patchbay's second window: credit granted ahead (its default is 32).
      wideCredit: 1_024,
      // The hand-written producers (raw ws, socket.io, tRPC): wait for drain above this many
      // bytes buffered, let the event loop run every `batch` items.
      highWater: 1 * MiB,
      batch: 256,
    }),
    serverParams: (p) => ({ highWater: p.highWater ?? 0, batch: p.batch ?? 0 }),
    legend: 'items/s: the default flow control of each system (Patchbay: credit 32); credit 1024: Patchbay only, its × is to the baseline\'s items/s',
    capMs: (p) => ((p.warmupMs ?? 0) + (p.measureMs ?? 0)) * 2 + 10_000,
    metrics: [
      { key: 'itemsPerSec', label: 'items/s', better: 'higher', format: rate },
      { key: 'itemsPerSecWide', label: 'items/s, credit 1024', better: 'higher', format: rate, ratioTo: 'itemsPerSec' },
    ],
  },
  largeMessages('large-messages-16k', 16 * 1024, 16),
  largeMessages('large-messages-1m', MiB, 2),
  {
    name: 'latency-under-load',
    summary: 'p50/p99/p99.9 of calls on one socket (a process of its own) while the server fans out to 5,000 sockets at half its measured maximum rate',
    needs: 'topics',
    serverMemory: 'none',
    params: (quick) => ({
      subscribers: quick ? 200 : envInt('BENCH_LUL_SUBSCRIBERS', 5_000),
      // Load processes the subscribers are spread over, as fan-out's BENCH_FANOUT_LOADS; the
      // first also publishes. The measured calls come from one more process (`caller`).
      loads: envInt('BENCH_LUL_LOADS', 2),
      bodyBytes: 80,
      window: 64,
      burst: 16,
      openConcurrency: 50,
      // Step 1: the maximum publish rate, fan-out's pacing (at most `window` ahead).
      warmupMs: quick ? 100 : 500,
      measureMs: quick ? 300 : 2_000,
      // Step 2: calls with nothing published (idle), then publishing at `loadShare` of the
      // maximum: `settleMs`, then calls for `callMs`, one in flight, one every `callEveryMs`.
      idleCallMs: quick ? 300 : 1_000,
      settleMs: quick ? 100 : 500,
      callMs: quick ? 500 : envInt('BENCH_LUL_CALL_MS', 5_000),
      callEveryMs: 1,
      loadSharePercent: 50,
      maxMessages: 10_000_000,
      maxMs: 60_000,
    }),
    capMs: (p) => (p.maxMs ?? 0) + (p.warmupMs ?? 0) + (p.measureMs ?? 0) + (p.idleCallMs ?? 0) + (p.settleMs ?? 0) + (p.callMs ?? 0) + 30_000,
    cpuPerOp: true,
    relaySides: true,
    caller: true,
    legend:
      'p50/p99/p99.9: round trip of add(a, b), one call in flight, from a process of its own, while publishing at half the maximum below; idle p99: the same before publishing;\n' +
      'max msg/s: deliveries per second at the maximum publish rate (step 1); at half: deliveries per second while the calls were measured; CPU/msg: per delivery at half rate',
    metrics: [
      { key: 'p50Us', label: 'p50', better: 'lower', format: micros },
      { key: 'p99Us', label: 'p99', better: 'lower', format: micros },
      { key: 'p999Us', label: 'p99.9', better: 'lower', format: micros },
      { key: 'idleP99Us', label: 'idle p99', better: 'lower', format: micros },
      { key: 'maxDeliveredPerSec', label: 'max msg/s', better: 'higher', format: rate },
      { key: 'deliveredPerSec', label: 'at half', better: 'higher', format: rate, ratio: false },
      ...cpuMetrics('msg'),
    ],
    paired: { pairs: peerPairs, metrics: ['p50Us', 'p99Us', 'p999Us', 'maxDeliveredPerSec'] },
  },
  {
    name: 'connection-storm',
    summary: '5,000 clients connect and subscribe at once (a reconnect wave after a deploy)',
    needs: 'topics',
    serverMemory: 'none',
    drive: 'storm',
    params: (quick) => ({
      subscribers: quick ? 200 : envInt('BENCH_STORM_SUBSCRIBERS', 5_000),
      loads: envInt('BENCH_STORM_LOADS', 2),
      // A failed attempt starts again after a random 0–retryJitterMs ms (drivers.js).
      retryJitterMs: 500,
      maxMs: 90_000,
    }),
    capMs: (p) => (p.maxMs ?? 0) + 20_000,
    legend:
      'all in: from "go" to the last subscription confirmed (the slowest load process); p50/p99: per client, from its start to its confirmation;\n' +
      "server CPU: user + system time of the server process over the storm, in all and per client; load CPU: per client, of the load processes",
    metrics: [
      { key: 'allMs', label: 'all in', better: 'lower', format: millis },
      { key: 'p50Ms', label: 'p50', better: 'lower', format: millis },
      { key: 'p99Ms', label: 'p99', better: 'lower', format: millis },
      { key: 'serverCpuMs', label: 'server CPU', better: 'lower', format: millis },
      { key: 'serverCpuPerClient', label: 'server CPU/client', better: 'lower', format: cpuMicros },
      { key: 'loadCpuPerClient', label: 'load CPU/client', better: 'lower', format: cpuMicros },
      { key: 'retries', label: 'failed attempts', format: rate, ratio: false },
    ],
    paired: { pairs: peerPairs, metrics: ['allMs', 'serverCpuMs', 'loadCpuPerClient'] },
  },
]
