/**
 * The typed twin of fixtures/api.mjs, for the test process: the spawned fixtures are plain
 * .mjs (no build step) and tsc does not read JS here. Paths and schemas must stay in step;
 * a drift shows up as NOT_FOUND or BAD_REQUEST in these tests.
 */
import { z } from 'zod'
import { procedure, router, topic } from '@patchbay/core'

const order = z.object({ orderId: z.string() })
const receipt = z.object({ orderId: z.string(), server: z.string(), pid: z.number().int() })

export const api = router({
  orders: {
    place: procedure({ input: order, output: receipt, idempotent: true }),
    charge: procedure({ input: order, output: receipt }),
  },
  info: procedure({
    output: z.object({
      server: z.string(),
      pid: z.number().int(),
      connections: z.number().int(),
      connectionCount: z.number().int(),
      subscriptions: z.number().int(),
    }),
  }),
  announce: procedure({ input: z.object({ text: z.string() }), output: z.object({ delivered: z.number().int() }) }),
  news: topic({ message: z.object({ text: z.string() }) }),
  feed: topic({ message: z.object({ text: z.string() }) }),
})

export type Api = typeof api
