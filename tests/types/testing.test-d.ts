/**
 * `@patchbay/server/testing` types (docs/guide/testing.md): the caller takes each procedure's
 * input type and resolves with its output type (the schemas' input and output sides, as the
 * client), streams are typed async iterators, topics are left out; `ctx` is the server's
 * context type, and a handler behind middleware sees the context the chain extended.
 */
import { describe, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import { ErrorCode, PatchbayError, procedure, router, stream, topic } from '@patchbay/core'
import { createChain, createServer, type HandshakeInfo } from '@patchbay/server'
import type { Client } from '@patchbay/client'
import { connectInMemory, createCaller, createTestPair } from '@patchbay/server/testing'

const api = router({
  math: {
    add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }),
  },
  when: procedure({ input: z.object({ at: z.string().transform((text) => text.length) }), output: z.object({ day: z.string().transform((text) => text.length) }) }),
  health: procedure({ output: z.literal('ok') }),
  me: procedure({ output: z.string() }),
  ticks: stream({ input: z.object({ to: z.number() }), output: z.object({ n: z.number() }) }),
  news: topic({ message: z.object({ text: z.string() }) }),
})

interface Ctx {
  user: { name: string } | null
}

const authed = createChain<Ctx>().use(({ ctx, next }) => {
  if (ctx.user === null) throw new PatchbayError(ErrorCode.UNAUTHORIZED, 'Sign in first')
  return next({ ctx: { user: ctx.user } })
})

const server = createServer(api, {
  context: (_info: HandshakeInfo): Ctx => ({ user: null }),
  handlers: {
    math: { add: ({ input }) => input.a + input.b },
    when: ({ input }) => ({ day: String(input.at) }),
    health: () => 'ok' as const,
    me: authed.handler(api.me, ({ ctx }) => {
      // Behind the auth middleware, ctx.user is non-null.
      expectTypeOf(ctx.user).toEqualTypeOf<{ name: string }>()
      return ctx.user.name
    }),
    async *ticks({ input }) {
      for (let n = 1; n <= input.to; n++) yield { n }
    },
  },
})

describe('createCaller', () => {
  const caller = createCaller(server, { ctx: { user: { name: 'ann' } } })

  it('takes the input type and resolves with the output type of each procedure', () => {
    expectTypeOf(caller.math.add).parameter(0).toEqualTypeOf<{ a: number; b: number }>()
    expectTypeOf(caller.math.add({ a: 1, b: 2 })).resolves.toEqualTypeOf<number>()
    // Transforming schemas: the input side goes in, the output side comes out.
    expectTypeOf(caller.when).parameter(0).toEqualTypeOf<{ at: string }>()
    expectTypeOf(caller.when({ at: 'x' })).resolves.toEqualTypeOf<{ day: number }>()
    expectTypeOf(caller.health()).resolves.toEqualTypeOf<'ok'>()
    expectTypeOf(caller.me()).resolves.toEqualTypeOf<string>()
    // @ts-expect-error a wrong input type is refused
    void caller.math.add({ a: '1', b: 2 })
  })

  it('types streams as async iterators of their items, and leaves topics out', () => {
    expectTypeOf(caller.ticks({ to: 3 })).toEqualTypeOf<AsyncIterableIterator<{ n: number }>>()
    expectTypeOf(caller).not.toHaveProperty('news')
  })

  it("types ctx as the server's context", () => {
    // @ts-expect-error ctx must be the server's context type
    createCaller(server, { ctx: { user: 'ann' } })
    // @ts-expect-error a server with a context needs one
    createCaller(server, {})
    const open = createServer(router({ ping: procedure({ output: z.null() }) }), { handlers: { ping: () => null } })
    // A server without a context hook needs none.
    expectTypeOf(createCaller(open, {}).ping()).resolves.toEqualTypeOf<null>()
  })
})

describe('the in-memory pair', () => {
  it("gives the router's typed client, with the server's context type", async () => {
    const pair = await createTestPair(server, { encoding: 'json', ctx: { user: null } })
    expectTypeOf(pair.client).toEqualTypeOf<Client<typeof api>>()
    // @ts-expect-error ctx must be the server's context type
    await createTestPair(server, { encoding: 'json', ctx: { user: 1 } })
    const network = connectInMemory(server, { context: ({ token }) => ({ user: token === undefined ? null : { name: token } }) })
    expectTypeOf(network.url).toEqualTypeOf<string>()
  })
})
