/**
 * The common half of every server process: print the port, answer the runner's memory
 * requests over IPC, and sample RSS to report its peak (and, since the last `reset-peak`,
 * its course over time). With `rssCap` in its parameters it tells the runner once when its
 * RSS passes that many bytes, so a scenario that grows memory without bound can be stopped.
 */
import { emit, hardCap, readParams } from './child-io.js'

const SAMPLE_MS = 20

/**
 * The listen backlog every system's server gets: Patchbay's `listen()` default. Node's own
 * default (511) drops SYNs in the connection storm, and each dropped client waits for TCP's
 * 1 s retry, so giving the peers the same queue keeps the storm a comparison of servers.
 */
export const LISTEN_BACKLOG = 4096
/** Timeline samples are kept per bucket of this many ms (the highest RSS in each). */
const TIMELINE_MS = 100
/** At most this many buckets are kept (a minute), so the timeline stays bounded too. */
const TIMELINE_MAX = 600

/**
 * What a system's `listen` resolves with: the port, and optionally counters of the server
 * itself (for example Patchbay's `server.stats`), reported with every memory reading.
 * @typedef {number | { port: number, stats?: () => Record<string, number> }} Listening
 */

/**
 * Starts a system's server and serves the runner's side channel.
 * @param {(params: Record<string, any>) => Promise<Listening>} listen starts the server on
 *   127.0.0.1 port 0 and resolves with the port
 */
export async function serve(listen) {
  const params = readParams()
  hardCap(params.capMs ?? 120_000, 'server')
  const rssCap = typeof params.rssCap === 'number' ? params.rssCap : Infinity
  let capReported = false
  let peakRss = process.memoryUsage.rss()
  let markedAt = performance.now()
  /** @type {number[]} highest RSS per TIMELINE_MS bucket since the mark */
  let timeline = []
  const sampler = setInterval(() => {
    const rss = process.memoryUsage.rss()
    if (rss > peakRss) peakRss = rss
    const bucket = Math.floor((performance.now() - markedAt) / TIMELINE_MS)
    if (bucket < TIMELINE_MAX) {
      while (timeline.length <= bucket) timeline.push(0)
      if (rss > (timeline[bucket] ?? 0)) timeline[bucket] = rss
    }
    if (rss > rssCap && !capReported) {
      capReported = true
      process.send?.({ type: 'rss-cap', rss })
    }
  }, SAMPLE_MS)
  sampler.unref()
  /** @type {(() => Record<string, number>) | undefined} */
  let stats

  process.on('message', (/** @type {any} */ message) => {
    if (message?.type === 'mem') {
      void settledMemory().then((memory) => {
        process.send?.({ type: 'mem', ...memory, peakRss: Math.max(peakRss, memory.rss), stats: stats?.() ?? {} })
      })
    } else if (message?.type === 'cpu') {
      const { user, system } = process.cpuUsage()
      process.send?.({ type: 'cpu', us: user + system })
    } else if (message?.type === 'reset-peak') {
      peakRss = process.memoryUsage.rss()
      markedAt = performance.now()
      timeline = [peakRss]
      process.send?.({ type: 'reset-peak' })
    } else if (message?.type === 'timeline') {
      // Buckets the sampler missed (a busy event loop) carry the previous reading.
      let last = 0
      const filled = timeline.map((rss) => (last = rss || last))
      process.send?.({ type: 'timeline', stepMs: TIMELINE_MS, rss: filled })
    }
  })
  // The runner ends a server by disconnecting or signalling; neither waits for sockets.
  process.on('disconnect', () => process.exit(0))
  process.on('SIGTERM', () => process.exit(0))

  const listening = await listen(params)
  const port = typeof listening === 'number' ? listening : listening.port
  if (typeof listening !== 'number') stats = listening.stats
  emit({ event: 'listening', port })
}

/** Memory after full collections, so a figure reflects what is still reachable. */
async function settledMemory() {
  const gc = /** @type {(() => void) | undefined} */ (globalThis.gc)
  for (let i = 0; i < 3; i++) {
    gc?.()
    await new Promise((resolve) => setImmediate(resolve))
  }
  const { rss, heapUsed, external } = process.memoryUsage()
  return { rss, heapUsed, external }
}
