/**
 * The common half of every server process: print the port, answer the runner's memory
 * requests over IPC, and sample RSS to report its peak.
 */
import { emit, hardCap, readParams } from './child-io.js'

const SAMPLE_MS = 20

/**
 * Starts a system's server and serves the runner's side channel.
 * @param {(params: Record<string, any>) => Promise<number>} listen starts the server on
 *   127.0.0.1 port 0 and resolves with the port
 */
export async function serve(listen) {
  const params = readParams()
  hardCap(params.capMs ?? 120_000, 'server')
  let peakRss = process.memoryUsage.rss()
  const sampler = setInterval(() => {
    const rss = process.memoryUsage.rss()
    if (rss > peakRss) peakRss = rss
  }, SAMPLE_MS)
  sampler.unref()

  process.on('message', (/** @type {any} */ message) => {
    if (message?.type === 'mem') {
      void settledMemory().then((memory) => {
        process.send?.({ type: 'mem', ...memory, peakRss: Math.max(peakRss, memory.rss) })
      })
    } else if (message?.type === 'reset-peak') {
      peakRss = process.memoryUsage.rss()
      process.send?.({ type: 'reset-peak' })
    }
  })
  // The runner ends a server by disconnecting or signalling; neither waits for sockets.
  process.on('disconnect', () => process.exit(0))
  process.on('SIGTERM', () => process.exit(0))

  const port = await listen(params)
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
