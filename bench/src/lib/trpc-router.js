/**
 * The tRPC 11 router of the bench: `add` as a query, `publish` as a mutation and
 * `onMessage` as a subscription written the way tRPC's docs write one (an async generator
 * over an EventEmitter), and `ticks`, the stream of stream-throughput, as a subscription
 * generator with hand-written flow control.
 */
import { EventEmitter, on } from 'node:events'
import { initTRPC } from '@trpc/server'
import { z } from 'zod'
import { writable } from './flow.js'
import { STREAM_BATCH, STREAM_HIGH_WATER, streamItem } from './stream-item.js'

/**
 * What servers/trpc.js puts in the context: the connection's socket (tRPC's ws adapter
 * passes it to createContext as `res`) and the producer's limits.
 * @typedef {object} Context
 * @property {import('ws').WebSocket} [ws]
 * @property {number} [highWater]
 * @property {number} [batch]
 */

const t = initTRPC.create()
const bus = new EventEmitter()
bus.setMaxListeners(0)

const payload = z.object({ seq: z.number(), body: z.string() })

export const appRouter = t.router({
  add: t.procedure.input(z.object({ a: z.number(), b: z.number() })).query(({ input }) => input.a + input.b),
  // large-messages: the payload back as it came (JSON only: a string).
  echo: t.procedure.input(z.string()).query(({ input }) => input),
  publish: t.procedure.input(z.object({ topic: z.string(), payload })).mutation(({ input }) => {
    bus.emit(input.topic, input.payload)
    return true
  }),
  onMessage: t.procedure.input(z.object({ topic: z.string() })).subscription(async function* ({ input, signal }) {
    for await (const [data] of on(bus, input.topic, signal ? { signal } : {})) {
      yield /** @type {z.infer<typeof payload>} */ (data)
    }
  }),
  ticks: t.procedure.input(z.object({ count: z.number().int().positive() })).subscription(async function* ({ input, ctx, signal }) {
    // tRPC's ws adapter sends whatever the generator yields, at once, and a generator that
    // never awaits would hold the event loop: the same rule as the raw ws producers keeps it
    // honest (a macrotask every `batch` items, a wait for drain above `highWater` buffered).
    const { ws, highWater = STREAM_HIGH_WATER, batch = STREAM_BATCH } = /** @type {Context} */ (ctx)
    for (let n = 0; n < input.count; n++) {
      if (signal?.aborted) return
      if (ws !== undefined && (n % batch === batch - 1 || ws.bufferedAmount >= highWater)) await writable(ws, highWater)
      yield streamItem(n)
    }
  }),
})

/** @typedef {typeof appRouter} AppRouter */
