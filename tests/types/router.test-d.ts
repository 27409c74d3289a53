/**
 * Compiled type tests: the inference rules of the router, the server's handlers and the
 * client's proxy. They run through tsc as part of the suite (vitest typecheck).
 */
import { describe, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import { procedure, router, type inferRouterInputs, type inferRouterOutputs } from '@patchbay/core'
import { createServer, type HandshakeInfo } from '@patchbay/server'
import { createClient } from '@patchbay/client'

const api = router({
  math: {
    add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }),
  },
  dates: {
    // Input and output types differ: the caller sends a string, the handler sees a number.
    parse: procedure({ input: z.string().transform((s) => s.length), output: z.object({ n: z.number() }) }),
  },
  health: procedure({ output: z.literal('ok') }),
})

describe('router inference', () => {
  it('infers inputs (what a caller passes) and outputs (what a caller gets)', () => {
    expectTypeOf<inferRouterInputs<typeof api>['math']['add']>().toEqualTypeOf<{ a: number; b: number }>()
    expectTypeOf<inferRouterInputs<typeof api>['dates']['parse']>().toEqualTypeOf<string>()
    expectTypeOf<inferRouterOutputs<typeof api>['dates']['parse']>().toEqualTypeOf<{ n: number }>()
    expectTypeOf<inferRouterInputs<typeof api>['health']>().toEqualTypeOf<undefined>()
  })

  it('refuses reserved top-level names', () => {
    // @ts-expect-error -- `close` is the client's own method at the top level
    router({ close: procedure({ output: z.number() }) })
  })
})

describe('server handlers', () => {
  it('see the schema output type and the context type', () => {
    createServer(api, {
      context: () => ({ user: 'ada' as string | null }),
      handlers: {
        math: {
          add: ({ input, ctx, signal }) => {
            expectTypeOf(input).toEqualTypeOf<{ a: number; b: number }>()
            expectTypeOf(ctx).toEqualTypeOf<{ user: string | null }>()
            expectTypeOf(signal).toEqualTypeOf<AbortSignal>()
            return input.a + input.b
          },
        },
        dates: {
          parse: ({ input }) => {
            expectTypeOf(input).toEqualTypeOf<number>()
            return { n: input }
          },
        },
        health: async () => 'ok' as const,
      },
    })
  })

  it('refuse a missing handler', () => {
    createServer(api, {
      handlers: {
        math: { add: ({ input }) => input.a + input.b },
        // @ts-expect-error -- dates.parse is missing
        dates: {},
        health: () => 'ok' as const,
      },
    })
  })

  it('refuse a wrong return type', () => {
    createServer(api, {
      handlers: {
        // @ts-expect-error -- add must return a number
        math: { add: () => 'three' },
        dates: { parse: ({ input }) => ({ n: input }) },
        health: () => 'ok' as const,
      },
    })
  })
})

describe('client proxy', () => {
  const client = createClient(api, { url: 'ws://127.0.0.1:1' })

  it('takes the schema input type and returns the output type', () => {
    expectTypeOf(client.math.add).parameter(0).toEqualTypeOf<{ a: number; b: number }>()
    expectTypeOf(client.math.add({ a: 1, b: 2 })).toEqualTypeOf<Promise<number>>()
    expectTypeOf(client.dates.parse('2024-01-01')).toEqualTypeOf<Promise<{ n: number }>>()
    expectTypeOf(client.health()).toEqualTypeOf<Promise<'ok'>>()
  })

  it('refuses a wrong input', () => {
    // @ts-expect-error -- b must be a number
    void client.math.add({ a: 1, b: '2' })
    // @ts-expect-error -- input is required
    void client.math.add()
  })

  it('accepts call options', () => {
    void client.math.add({ a: 1, b: 2 }, { timeout: 5_000, signal: new AbortController().signal })
  })
})

describe('context inference', () => {
  it('infers ctx from a context hook that destructures its parameter', () => {
    createServer(api, {
      context: ({ cookies, url }) => ({ session: cookies.session ?? url.searchParams.get('token') }),
      handlers: {
        math: {
          add: ({ input, ctx }) => {
            expectTypeOf(ctx).toEqualTypeOf<{ session: string | null }>()
            return input.a + input.b
          },
        },
        dates: { parse: ({ input }) => ({ n: input }) },
        health: () => 'ok' as const,
      },
    })
  })

  it('refuses an extra handler', () => {
    createServer(api, {
      handlers: {
        math: { add: ({ input }) => input.a + input.b },
        dates: { parse: ({ input }) => ({ n: input }) },
        health: () => 'ok' as const,
        // @ts-expect-error -- no procedure is called extra
        extra: () => 1,
      },
    })
  })

  it('infers ctx from an annotated or parameterless context hook, sync or async', () => {
    createServer(api, {
      context: async ({ headers }: HandshakeInfo) => ({ token: headers.authorization ?? null }),
      handlers: {
        math: {
          add: ({ input, ctx }) => {
            expectTypeOf(ctx).toEqualTypeOf<{ token: string | null }>()
            return input.a + input.b
          },
        },
        dates: { parse: ({ input }) => ({ n: input }) },
        health: () => 'ok' as const,
      },
    })
  })

  it('gives handlers ctx undefined without a context hook', () => {
    createServer(api, {
      handlers: {
        math: {
          add: ({ input, ctx }) => {
            expectTypeOf(ctx).toEqualTypeOf<undefined>()
            return input.a + input.b
          },
        },
        dates: { parse: ({ input }) => ({ n: input }) },
        health: () => 'ok' as const,
      },
    })
  })
})
