/**
 * The router the page and the server share. Schemas only: safe to bundle, though the page
 * imports only its type and the generated shape (api.shape.ts).
 */
import { z } from 'zod'
import { procedure, router, stream, topic } from '@patchbay/core'

/** The server process's own health, sampled every `GAUGE_INTERVAL_MS`. */
export const Gauges = z.object({
  at: z.number(),
  /** CPU time over wall time since the last sample, % of one core. */
  cpu: z.number(),
  rssMb: z.number(),
  heapUsedMb: z.number(),
  /** Event-loop delay over the last sample, p99, in milliseconds. */
  loopLagMs: z.number(),
  /** Open Patchbay connections. */
  connections: z.number().int(),
  /** Series streams running on the server, for every page. */
  streams: z.number().int(),
})
export type Gauges = z.infer<typeof Gauges>

/** One point of the synthetic traffic series. */
export const Point = z.object({
  at: z.number(),
  /** Requests per second. */
  rps: z.number(),
  /** Latency percentiles, milliseconds. */
  p50: z.number(),
  p99: z.number(),
})
export type Point = z.infer<typeof Point>

export const api = router({
  metrics: {
    /**
     * Gauges, published a few times a second. `latest`: a subscriber that reads too slowly
     * gets the newest sample instead of a queue of old ones; a gauge only shows its latest.
     */
    gauges: topic({ message: Gauges, backpressure: 'latest' }),
    /**
     * The traffic series, a point every `intervalMs`. A stream with credit: the server
     * samples only when the page has room, so a slow page gets fewer, fresh points instead
     * of a growing backlog.
     */
    series: stream({ input: z.object({ intervalMs: z.number().int().min(2).max(5000) }), output: Point }),
    /** About the server process: for the page's header. */
    info: procedure({ output: z.object({ pid: z.number(), node: z.string(), startedAt: z.number(), gaugeIntervalMs: z.number() }) }),
    /** Starts a synthetic traffic spike of `seconds` (the series jumps); resolves with when it ends. */
    spike: procedure({ input: z.object({ seconds: z.number().min(1).max(30) }), output: z.object({ until: z.number() }) }),
    /** The running series streams: points each has sent (for watching the credit at work). */
    streams: procedure({ output: z.array(z.object({ connection: z.string(), intervalMs: z.number(), sent: z.number() })) }),
  },
})
