// testing-app.ts: the application under test, as a factory so each test gets its own server
import { z } from 'zod'
import { ErrorCode, PatchbayError, procedure, router, stream, topic } from '@patchbay/core'
import { createChain, createServer, type HandshakeInfo } from '@patchbay/server'

export const api = router({
  math: { add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }) },
  me: procedure({ output: z.object({ name: z.string() }) }),
  count: stream({ input: z.object({ to: z.number().int() }), output: z.number() }),
  chat: topic({ params: z.object({ room: z.string() }), message: z.object({ text: z.string() }) }),
})

export interface Ctx {
  user: { name: string } | null
}

const authed = createChain<Ctx>().use(({ ctx, next }) => {
  if (ctx.user === null) throw new PatchbayError(ErrorCode.UNAUTHORIZED, 'Sign in first')
  return next({ ctx: { user: ctx.user } })
})

export function makeServer() {
  return createServer(api, {
    context: (info: HandshakeInfo): Ctx => ({ user: info.token === undefined ? null : { name: info.token } }),
    validateOutput: true,
    handlers: {
      math: { add: ({ input }) => input.a + input.b },
      me: authed.handler(api.me, ({ ctx }) => ({ name: ctx.user.name })),
      async *count({ input, signal }) {
        for (let n = 1; n <= input.to && !signal.aborted; n++) yield n
      },
    },
  })
}
