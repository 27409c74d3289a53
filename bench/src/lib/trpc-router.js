/**
 * The tRPC 11 router of the bench: `add` as a query, `publish` as a mutation and
 * `onMessage` as a subscription written the way tRPC's docs write one (an async generator
 * over an EventEmitter).
 */
import { EventEmitter, on } from 'node:events'
import { initTRPC } from '@trpc/server'
import { z } from 'zod'

const t = initTRPC.create()
const bus = new EventEmitter()
bus.setMaxListeners(0)

const payload = z.object({ seq: z.number(), body: z.string() })

export const appRouter = t.router({
  add: t.procedure.input(z.object({ a: z.number(), b: z.number() })).query(({ input }) => input.a + input.b),
  publish: t.procedure.input(z.object({ topic: z.string(), payload })).mutation(({ input }) => {
    bus.emit(input.topic, input.payload)
    return true
  }),
  onMessage: t.procedure.input(z.object({ topic: z.string() })).subscription(async function* ({ input, signal }) {
    for await (const [data] of on(bus, input.topic, signal ? { signal } : {})) {
      yield /** @type {z.infer<typeof payload>} */ (data)
    }
  }),
})

/** @typedef {typeof appRouter} AppRouter */
