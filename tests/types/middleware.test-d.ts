/**
 * Middleware types (docs/guide/middleware.md): a chain carries the context type to what it
 * wraps (after an auth middleware `ctx.user` is non-null), a middleware sees typed options,
 * and the server's connection list is typed by its context.
 */
import { describe, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import { ErrorCode, PatchbayError, procedure, router, stream, topic } from '@patchbay/core'
import {
  createChain,
  createServer,
  type ConnectionDetails,
  type ConnectionInfo,
  type ExtendContext,
  type HandshakeInfo,
  type Middleware,
  type MiddlewareKind,
  type MiddlewareResult,
} from '@patchbay/server'

interface User {
  id: string
  admin: boolean
}
interface Ctx {
  user: User | null
  requestId: string
}

const api = router({
  health: procedure({ output: z.literal('ok') }),
  me: procedure({ output: z.string() }),
  admin: {
    ban: procedure({ input: z.object({ id: z.string() }), output: z.null() }),
    audit: topic({ params: z.object({ room: z.string() }), message: z.object({ text: z.string() }), publish: 'client' }),
    feed: stream({ output: z.number() }),
  },
  inbox: topic({ message: z.object({ text: z.string() }) }),
})

const base = createChain<Ctx>()
const authed = base.use(({ ctx, next }) => {
  if (ctx.user === null) throw new PatchbayError(ErrorCode.UNAUTHORIZED, 'no')
  return next({ ctx: { user: ctx.user } })
})
const admin = authed.use(async ({ ctx, next }) => {
  expectTypeOf(ctx.user).toEqualTypeOf<User>()
  return next({ ctx: { isAdmin: true as const } })
})
const context = (info: HandshakeInfo): Ctx => ({ user: null, requestId: info.url.pathname })

describe('middleware types', () => {
  it('a middleware sees typed options and returns what next() resolved with', () => {
    base.use((options) => {
      expectTypeOf(options.path).toEqualTypeOf<string>()
      expectTypeOf(options.kind).toEqualTypeOf<MiddlewareKind>()
      expectTypeOf(options.input).toEqualTypeOf<unknown>()
      expectTypeOf(options.ctx).toEqualTypeOf<Ctx>()
      expectTypeOf(options.connection).toEqualTypeOf<ConnectionInfo>()
      expectTypeOf(options.signal).toEqualTypeOf<AbortSignal>()
      expectTypeOf(options.next()).toEqualTypeOf<Promise<MiddlewareResult>>()
      return options.next()
    })
    expectTypeOf<MiddlewareKind>().toEqualTypeOf<'call' | 'stream' | 'subscribe' | 'publish'>()
    // @ts-expect-error -- a middleware must return next()'s result, not a value of its own
    base.use(() => 42)
  })

  it('extends the context for the handlers below: ctx.user is non-null after the auth middleware', () => {
    createServer(api, {
      context,
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
            expectTypeOf(ctx.user).toEqualTypeOf<User>()
            expectTypeOf(input).toEqualTypeOf<{ id: string }>()
            return null
          },
          async *feed({ ctx }) {
            expectTypeOf(ctx.user).toEqualTypeOf<User>()
            yield 1
          },
        }),
      },
      topics: {
        admin: admin.topics(api.admin, {
          audit: {
            authorize: ({ ctx, params }) => {
              expectTypeOf(params).toEqualTypeOf<{ room: string }>()
              return ctx.user.admin
            },
            authorizePublish: ({ ctx, data }) => ctx.isAdmin && data.text !== '',
          },
        }),
        inbox: authed.topic(api.inbox, { scope: 'connection', authorize: ({ ctx }) => ctx.user.id !== '' }),
      },
    })
  })

  it('without the middleware the context is the server\'s: ctx.user may be null', () => {
    createServer(api, {
      context,
      handlers: {
        health: () => 'ok' as const,
        me: ({ ctx }) => {
          expectTypeOf(ctx.user).toEqualTypeOf<User | null>()
          // @ts-expect-error -- ctx.user may be null here
          return ctx.user.id
        },
        admin: {
          ban: () => null,
          async *feed() {
            yield 1
          },
        },
      },
    })
  })

  it('a wrapped handler keeps its procedure\'s input and output types', () => {
    // @ts-expect-error -- me returns a string
    authed.handler(api.me, () => 42)
    authed.handler(api.admin.ban, ({ input }) => {
      expectTypeOf(input.id).toEqualTypeOf<string>()
      return null
    })
    // @ts-expect-error -- ban's handler misses in the subtree
    admin.handlers(api.admin, { feed: async function* () {} })
  })

  it('names a reusable middleware by what it needs and what it adds', () => {
    const requireUser: Middleware<{ user: User | null }, { user: User }> = ({ ctx, next }) => {
      if (ctx.user === null) throw new PatchbayError(ErrorCode.UNAUTHORIZED, 'no')
      return next({ ctx: { user: ctx.user } })
    }
    const chain = base.use(requireUser)
    chain.handler(api.me, ({ ctx }) => {
      expectTypeOf(ctx.user).toEqualTypeOf<User>()
      expectTypeOf(ctx.requestId).toEqualTypeOf<string>()
      return ctx.user.id
    })
    expectTypeOf<ExtendContext<Ctx, { user: User }>>().toEqualTypeOf<{ requestId: string; user: User }>()
    expectTypeOf<ExtendContext<undefined, { user: User }>>().toEqualTypeOf<{ user: User }>()
  })

  it('types the connection list by the context, and publishTo by the topic', () => {
    const server = createServer(api, {
      context,
      topics: { inbox: { scope: 'connection' } },
      handlers: { health: () => 'ok' as const, me: () => '', admin: { ban: () => null, async *feed() {} } },
    })
    expectTypeOf(server.connections()).toEqualTypeOf<ConnectionDetails<Ctx>[]>()
    expectTypeOf(server.connection('id')).toEqualTypeOf<ConnectionDetails<Ctx> | undefined>()
    expectTypeOf<ConnectionDetails<Ctx>['ctx']>().toEqualTypeOf<Ctx>()
    expectTypeOf(server.publishTo('id', api.inbox, undefined, { text: 'hi' })).toEqualTypeOf<number>()
    // @ts-expect-error -- the message must be the topic's
    server.publishTo('id', api.inbox, undefined, { body: 'hi' })
    expectTypeOf(server.disconnect).toEqualTypeOf<(id: string, code: number, reason?: string) => boolean>()
  })
})
