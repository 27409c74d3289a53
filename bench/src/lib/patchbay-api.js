/**
 * The Patchbay router of the bench, shared by its server and load: the same tiny `add` as
 * every other system, validated with zod like tRPC's.
 */
import { procedure, router } from '@patchbay/core'
import { z } from 'zod'

export const api = router({
  math: {
    add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }),
  },
})
