import { describe, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import { procedure, router, topic } from '@patchbay/core'
import { createMemoryEngine, createServer, type AsyncEngine } from '@patchbay/server'
import { createClient } from '@patchbay/client'

const api = router({
  chat: {
    send: procedure({ input: z.object({ text: z.string() }), output: z.null() }),
    room: topic({ params: z.object({ room: z.string() }), message: z.object({ text: z.string(), at: z.number() }) }),
  },
  market: {
    // Params with a transform: subscribers pass a string, authorize sees the number.
    ticks: topic({ params: z.object({ symbol: z.string().transform((s) => s.length) }), message: z.number() }),
  },
  clock: topic({ message: z.date().or(z.number()) }),
})

describe('topic types', () => {
  const client = createClient(api, { url: 'ws://127.0.0.1:1' })

  it('subscribers pass the params input type and hear the message type', () => {
    const off = client.chat.room.subscribe({ room: 'lobby' }, (message, meta) => {
      expectTypeOf(message).toEqualTypeOf<{ text: string; at: number }>()
      expectTypeOf(meta.seq).toEqualTypeOf<number>()
    })
    expectTypeOf(off).toBeCallableWith()
    expectTypeOf(off.ready).toEqualTypeOf<Promise<void>>()
    // @ts-expect-error -- room must be a string
    client.chat.room.subscribe({ room: 1 }, () => {})
    expectTypeOf(client.chat.room.iterate({ room: 'x' })).toEqualTypeOf<AsyncIterableIterator<{ text: string; at: number }>>()
  })

  it('topics without params take none', () => {
    client.clock.subscribe((message) => expectTypeOf(message).toEqualTypeOf<Date | number>())
    expectTypeOf(client.clock.iterate()).toEqualTypeOf<AsyncIterableIterator<Date | number>>()
  })

  it('client publish is typed', () => {
    void client.chat.room.publish({ room: 'a' }, { text: 'hi', at: 1 })
    // @ts-expect-error -- at is missing
    void client.chat.room.publish({ room: 'a' }, { text: 'hi' })
  })

  it('server publish and topic options are typed; topics need no handlers', () => {
    const server = createServer(api, {
      context: ({ url }) => ({ admin: url.searchParams.has('admin') }),
      handlers: { chat: { send: () => null } },
      topics: {
        market: {
          ticks: {
            authorize: ({ params, ctx }) => {
              expectTypeOf(params).toEqualTypeOf<{ symbol: number }>()
              expectTypeOf(ctx).toEqualTypeOf<{ admin: boolean }>()
              return ctx.admin
            },
          },
        },
      },
    })
    expectTypeOf(server.publish(api.chat.room, { room: 'a' }, { text: 'x', at: 1 })).toEqualTypeOf<number>()
    // @ts-expect-error -- the message needs `at`
    server.publish(api.chat.room, { room: 'a' }, { text: 'x' })
    // @ts-expect-error -- params need `room`
    server.publish(api.chat.room, {}, { text: 'x', at: 1 })
  })

  it('server publish answers at once on a synchronous engine, with a promise on an asynchronous one', () => {
    const memory = createServer(api, { handlers: { chat: { send: () => null } }, engine: createMemoryEngine() })
    expectTypeOf(memory.publish(api.chat.room, { room: 'a' }, { text: 'x', at: 1 })).toEqualTypeOf<number>()
    const remote = createServer(api, { handlers: { chat: { send: () => null } }, engine: remoteEngine })
    expectTypeOf(remote.publish(api.chat.room, { room: 'a' }, { text: 'x', at: 1 })).toEqualTypeOf<Promise<number>>()
  })
})

/** An engine whose store is elsewhere (only its type matters here). */
declare const remoteEngine: AsyncEngine
