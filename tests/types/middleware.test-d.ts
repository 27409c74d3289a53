import { describe, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import { ErrorCode, PatchbayError, procedure, router, stream, topic } from '@patchbay/core'
import { createChain, createServer } from '@patchbay/server'

interface User { id: string; admin: boolean }
type Ctx = { user: User | null; requestId: string }

const api = router({
  health: procedure({ output: z.literal('ok') }),
  me: procedure({ output: z.string() }),
  admin: {
    ban: procedure({ input: z.object({ id: z.string() }), output: z.null() }),
    audit: topic({ message: z.string() }),
    feed: stream({ output: z.number() }),
  },
})

describe('middleware types', () => {
  it('extends ctx', () => {
    const base = createChain<Ctx>()
    const authed = base.use(({ ctx, next }) => {
      if (ctx.user === null) throw new PatchbayError(ErrorCode.UNAUTHORIZED, 'no')
      return next({ ctx: { user: ctx.user } })
    })
    const admin = authed.use(async ({ ctx, next }) => {
      expectTypeOf(ctx.user).toEqualTypeOf<User>()
      return next({ ctx: { isAdmin: true as const } })
    })
    createServer(api, {
      context: (): Ctx => ({ user: null, requestId: 'x' }),
      handlers: {
        health: () => 'ok' as const,
        me: authed.handler(api.me, ({ ctx }) => {
          expectTypeOf(ctx.user).toEqualTypeOf<User>()
          expectTypeOf(ctx.requestId).toEqualTypeOf<string>()
          return ctx.user.id
        }),
        admin: admin.handlers(api.admin, {
          ban: ({ ctx, input }) => {
            expectTypeOf(ctx.isAdmin).toEqualTypeOf<true>()
            expectTypeOf(input.id).toEqualTypeOf<string>()
            return null
          },
          async *feed({ ctx }) {
            expectTypeOf(ctx.user).toEqualTypeOf<User>()
            yield 1
          },
        }),
      },
      topics: {
        admin: admin.topics(api.admin, { audit: { authorize: ({ ctx }) => ctx.user.admin } }),
      },
    })
  })
})
