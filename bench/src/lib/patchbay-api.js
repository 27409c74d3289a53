/**
 * The Patchbay router of the bench, shared by its server and load: the same tiny `add` as
 * every other system, validated with zod like tRPC's.
 */
import { procedure, router, topic } from '@patchbay/core'
import { z } from 'zod'

export const api = router({
  math: {
    add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }),
  },
  // Fan-out: the load publishes from a client, as the raw ws and socket.io loads do; each
  // publish is validated, answered, and encoded once for all subscribers.
  feed: topic({
    params: z.object({ topic: z.string() }),
    message: z.object({ seq: z.number(), body: z.string() }),
    publish: 'client',
  }),
})
