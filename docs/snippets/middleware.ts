// middleware.ts: auth, admin and timing middleware, typed context, on the server side only
import { z } from 'zod'
import { ErrorCode, PatchbayError, procedure, router, stream, topic } from '@patchbay/core'
import { createChain, createServer, type HandshakeInfo, type Middleware } from '@patchbay/server'

// The shared router: schemas only, as ever.
const api = router({
  health: procedure({ output: z.literal('ok') }),
  me: procedure({ output: z.object({ name: z.string() }) }),
  admin: {
    ban: procedure({ input: z.object({ user: z.string() }), output: z.null() }),
    log: stream({ output: z.string() }),
    audit: topic({ message: z.object({ text: z.string() }) }),
  },
})

interface User {
  name: string
  admin: boolean
}
interface Ctx {
  user: User | null
}

async function userFromToken(token: string | undefined): Promise<User | null> {
  return token === undefined ? null : { name: 'ann', admin: token === 'admin-token' }
}

// A reusable middleware, typed by what it needs of the context and what it adds.
const timing: Middleware<unknown> = async ({ path, kind, next }) => {
  const started = performance.now()
  try {
    return await next()
  } finally {
    console.log(`${kind} ${path} took ${(performance.now() - started).toFixed(1)} ms`)
  }
}

// tRPC's `t.procedure` and its `protectedProcedure`: a chain per level of trust.
const base = createChain<Ctx>().use(timing)
const authed = base.use(({ ctx, next }) => {
  if (ctx.user === null) throw new PatchbayError(ErrorCode.UNAUTHORIZED, 'Sign in first')
  // Below this middleware, ctx.user is a User, in the types too.
  return next({ ctx: { user: ctx.user } })
})
const adminOnly = authed.use(({ ctx, next }) => {
  if (!ctx.user.admin) throw new PatchbayError(ErrorCode.FORBIDDEN, 'Admins only')
  return next()
})

export const server = createServer(api, {
  // A typed parameter lets TypeScript infer the context type beside wrapped subtrees.
  context: async (info: HandshakeInfo): Promise<Ctx> => ({ user: await userFromToken(info.token) }),
  // The whole tree is timed; `me` needs a user; the admin subtree needs an admin.
  handlers: base.handlers(api, {
    health: () => 'ok' as const,
    me: authed.handler(api.me, ({ ctx }) => ({ name: ctx.user.name })),
    admin: adminOnly.handlers(api.admin, {
      ban: ({ input, ctx }) => {
        console.log(`${ctx.user.name} bans ${input.user}`)
        return null
      },
      async *log({ signal }) {
        while (!signal.aborted) yield new Date().toISOString()
      },
    }),
  }),
  // Topics sit in `topics`: wrap the same subtree there, and `authorize` sees the chain's ctx.
  topics: base.topics(api, {
    admin: adminOnly.topics(api.admin, {
      audit: { authorize: ({ ctx }) => ctx.user.admin },
    }),
  }),
})
