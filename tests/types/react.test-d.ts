/** @patchbay/react's inference rules: query options, keys, mutations, topic and stream hooks. */
import { describe, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import { procedure, router, stream, topic, type PatchbayError } from '@patchbay/core'
import { createClient, type LagEvent } from '@patchbay/client'
import { createPatchbayQuery, useStream, useSubscription, type PatchbayQueryKey } from '@patchbay/react'
import { QueryClient, useMutation, useQuery, useSuspenseQuery, type DataTag } from '@tanstack/react-query'

const api = router({
  math: {
    add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }),
    // Input and output types differ: callers pass a string, handlers see a number.
    parse: procedure({ input: z.string().transform((s) => s.length), output: z.object({ at: z.date() }) }),
  },
  now: procedure({ output: z.number() }),
  chat: {
    send: procedure({ input: z.object({ text: z.string() }), output: z.null() }),
    room: topic({ params: z.object({ room: z.string() }), message: z.object({ text: z.string() }) }),
  },
  clock: topic({ message: z.number() }),
  ticks: stream({ input: z.object({ to: z.number() }), output: z.number() }),
  forever: stream({ output: z.string() }),
})

const client = createClient(api, { url: 'ws://127.0.0.1:1' })
const pb = createPatchbayQuery(client)

describe('query options', () => {
  it('take the input type and give the output type, with PatchbayError as the error', () => {
    const sum = useQuery(pb.math.add.queryOptions({ a: 1, b: 2 }))
    expectTypeOf(sum.data).toEqualTypeOf<number | undefined>()
    expectTypeOf(sum.error).toEqualTypeOf<PatchbayError | null>()
    const parsed = useSuspenseQuery(pb.math.parse.queryOptions('abc'))
    expectTypeOf(parsed.data).toEqualTypeOf<{ at: Date }>()
    // @ts-expect-error -- b must be a number
    pb.math.add.queryOptions({ a: 1, b: '2' })
    // @ts-expect-error -- the input is required
    pb.math.add.queryOptions()
  })

  it('procedures without input take none; select changes the data type', () => {
    const now = useQuery(pb.now.queryOptions(undefined, { select: (n) => new Date(n), staleTime: 1000, call: { timeout: 500 } }))
    expectTypeOf(now.data).toEqualTypeOf<Date | undefined>()
    expectTypeOf(pb.now.queryOptions().queryKey).toExtend<readonly ['patchbay', 'now', undefined]>()
  })

  it('keys carry the path as a literal and the data type for the cache', () => {
    const key = pb.math.add.queryKey({ a: 1, b: 2 })
    expectTypeOf(key).toEqualTypeOf<DataTag<PatchbayQueryKey<'math.add', { a: number; b: number }>, number, PatchbayError>>()
    expectTypeOf(new QueryClient().getQueryData(key)).toEqualTypeOf<number | undefined>()
    expectTypeOf(pb.math.add.pathKey()).toEqualTypeOf<readonly ['patchbay', 'math.add']>()
  })

  it('streams, topics and unknown names have no query options', () => {
    // @ts-expect-error -- a stream is read with useStream
    void pb.ticks
    // @ts-expect-error -- a topic is read with useSubscription
    void pb.chat.room
    // @ts-expect-error -- not in the router
    void pb.math.sub
  })
})

describe('mutation options', () => {
  it('take the input as variables and give the output', () => {
    const send = useMutation(
      pb.chat.send.mutationOptions({
        onSuccess: (data, variables) => {
          expectTypeOf(data).toEqualTypeOf<null>()
          expectTypeOf(variables).toEqualTypeOf<{ text: string }>()
        },
        onError: (error) => expectTypeOf(error).toEqualTypeOf<PatchbayError>(),
      }),
    )
    expectTypeOf(send.mutate).toBeCallableWith({ text: 'hi' })
    expectTypeOf(send.data).toEqualTypeOf<null | undefined>()
    expectTypeOf(send.error).toEqualTypeOf<PatchbayError | null>()
    // @ts-expect-error -- text must be a string
    send.mutate({ text: 1 })
    const now = useMutation(pb.now.mutationOptions())
    expectTypeOf(now.mutate).toBeCallableWith()
  })
})

describe('useSubscription', () => {
  it('takes the params type and gives the message type', () => {
    const room = useSubscription(client.chat.room, { room: 'lobby' }, {
      onMessage: (message, meta) => {
        expectTypeOf(message).toEqualTypeOf<{ text: string }>()
        expectTypeOf(meta.seq).toEqualTypeOf<number>()
      },
      onLag: (lag) => expectTypeOf(lag).toEqualTypeOf<LagEvent>(),
      enabled: true,
    })
    expectTypeOf(room.data).toEqualTypeOf<{ text: string } | undefined>()
    expectTypeOf(room.lag).toEqualTypeOf<LagEvent | undefined>()
    expectTypeOf(room.error).toEqualTypeOf<PatchbayError | undefined>()
    expectTypeOf(room.status).toEqualTypeOf<'idle' | 'pending' | 'live' | 'reconnecting' | 'error'>()
    // @ts-expect-error -- room must be a string
    useSubscription(client.chat.room, { room: 1 })
    // @ts-expect-error -- params are required
    useSubscription(client.chat.room)
  })

  it('stands on what the client tells any integration: `onLive` and `live`', () => {
    const off = client.chat.room.subscribe({ room: 'lobby' }, () => {}, { onLive: (live) => expectTypeOf(live).toEqualTypeOf<boolean>() })
    expectTypeOf(off.live).toEqualTypeOf<boolean>()
    expectTypeOf(off.ready).toEqualTypeOf<Promise<void>>()
  })

  it('topics without params take none', () => {
    expectTypeOf(useSubscription(client.clock).data).toEqualTypeOf<number | undefined>()
    useSubscription(client.clock, undefined, { onMessage: (n) => expectTypeOf(n).toEqualTypeOf<number>() })
  })
})

describe('useStream', () => {
  it('takes the input type and gives the item type', () => {
    const ticks = useStream(client.ticks, { to: 3 }, { credit: 4, onItem: (n) => expectTypeOf(n).toEqualTypeOf<number>() })
    expectTypeOf(ticks.items).toEqualTypeOf<readonly number[]>()
    expectTypeOf(ticks.latest).toEqualTypeOf<number | undefined>()
    expectTypeOf(ticks.error).toEqualTypeOf<PatchbayError | undefined>()
    expectTypeOf(ticks.cancel).toEqualTypeOf<() => void>()
    // @ts-expect-error -- to must be a number
    useStream(client.ticks, { to: '3' })
    expectTypeOf(useStream(client.forever).items).toEqualTypeOf<readonly string[]>()
  })
})
