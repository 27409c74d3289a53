/** The router the browser feature suite shares between its Node server and its page. */
import { z } from 'zod'
import { procedure, router, stream, topic } from '@patchbay/core'

export const api = router({
  whoami: procedure({ output: z.object({ token: z.string().nullable() }) }),
  put: procedure({ input: z.object({ blob: z.string() }), output: z.number() }),
  count: stream({ input: z.object({ to: z.number().int().optional() }), output: z.number() }),
  cursor: topic({ message: z.object({ x: z.number() }), backpressure: 'latest' }),
})
