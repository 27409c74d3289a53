// api.ts: imported by both halves; schemas only, no handlers, safe to bundle for the browser
import { z } from 'zod'
import { procedure, router } from '@patchbay/core'

export const api = router({
  math: {
    add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }),
  },
  me: procedure({ output: z.object({ user: z.string().nullable() }) }),
})
