/**
 * The example's server: one http.Server serving the page and, on /ws, Patchbay. It publishes
 * its own gauges on a `latest` topic and streams a traffic series to each page with credit.
 * From the environment: PORT (default 3002, 0 for any), HOST (default 127.0.0.1),
 * GAUGE_INTERVAL_MS (default 500).
 */
import { createServer as createHttpServer } from 'node:http'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { createServer } from '@patchbay/server'
import { api } from './api.js'
import { processSampler, Traffic } from './metrics.js'
import { serveStatic } from '@patchbay/example-kit'

const publicDir = join(fileURLToPath(new URL('.', import.meta.url)), 'public')
const gaugeIntervalMs = Number(process.env.GAUGE_INTERVAL_MS ?? 500)
const startedAt = Date.now()
const traffic = new Traffic()
/** Running series streams, by a key of their own: what each has sent. */
const streams = new Map<object, { connection: string; intervalMs: number; sent: number }>()

const http = createHttpServer((request, response) => {
  serveStatic(publicDir, request, response).catch(() => response.headersSent || response.writeHead(500).end('Internal error'))
})

const patchbay = createServer(api, {
  // Browsers send Origin; only pages served by this server may connect.
  origins: (origin) => origin === undefined || allowedOrigins.has(origin),
  handlers: {
    metrics: {
      async *series({ input, signal, connection }) {
        const entry = { connection: connection.id, intervalMs: input.intervalMs, sent: 0 }
        streams.set(entry, entry)
        try {
          while (!signal.aborted) {
            // The point is sampled when the page has credit for it, never queued ahead: a
            // `yield` waits while the page's window is full, and the next point is taken
            // after it, fresh. So a slow page gets fewer points, not older ones.
            const point = traffic.sample(Date.now())
            entry.sent++
            yield point
            await sleep(input.intervalMs, undefined, { signal }).catch(() => undefined)
          }
        } finally {
          streams.delete(entry)
        }
      },
      info: () => ({ pid: process.pid, node: process.version, startedAt, gaugeIntervalMs }),
      spike: ({ input }) => ({ until: traffic.spike(input.seconds) }),
      streams: () => [...streams.values()].map((entry) => ({ ...entry })),
    },
  },
})
patchbay.attach(http, { path: '/ws' })

const sample = processSampler()
const gauges = setInterval(() => {
  // `latest` policy: a subscriber behind on its socket gets this sample in place of the
  // ones it had not read yet.
  patchbay.publish(api.metrics.gauges, undefined, sample({ connections: patchbay.connections().length, streams: streams.size }))
}, gaugeIntervalMs)

const port = Number(process.env.PORT ?? 3002)
const host = process.env.HOST ?? '127.0.0.1'
const allowedOrigins = new Set<string>()

http.listen(port, host, () => {
  const address = http.address()
  const bound = typeof address === 'object' && address !== null ? address.port : port
  for (const name of ['localhost', '127.0.0.1', host]) allowedOrigins.add(`http://${name}:${bound}`)
  console.log(`listening on http://localhost:${bound}`)
})

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    clearInterval(gauges)
    void patchbay.close().then(() => http.close(() => process.exit(0)))
  })
}
