import { describe, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import { router, topic } from '@patchbay/core'
import { createClient, endpointOf, type EndpointInfo, type Unsubscribe } from '@patchbay/client'
import { useSubscription, type TopicParamsOf } from '@patchbay/react'

const api = router({
  clock: topic({ message: z.number() }),
  room: topic({ params: z.object({ room: z.string() }), message: z.string() }),
  /** A params schema that accepts undefined: params still come first, as at run time. */
  feed: topic({ params: z.object({ tag: z.string() }).optional(), message: z.string() }),
})

describe('a topic whose params schema is optional', () => {
  const client = createClient(api, { url: 'ws://127.0.0.1:1' })

  it('takes params first, undefined among them (the client calls it with params at run time)', () => {
    expectTypeOf(client.feed.subscribe).parameter(0).toEqualTypeOf<{ tag: string } | undefined>()
    expectTypeOf(client.feed.subscribe(undefined, (message: string) => void message)).toEqualTypeOf<Unsubscribe>()
    client.feed.subscribe({ tag: 'x' }, () => {})
    // @ts-expect-error -- the listener is not the params: pass undefined first
    client.feed.subscribe((message: string) => void message)
    expectTypeOf(client.feed.iterate(undefined)).toEqualTypeOf<AsyncIterableIterator<string>>()
    void client.feed.publish(undefined, 'hello')
  })

  it('is optional in useSubscription, as a topic without params is', () => {
    expectTypeOf<TopicParamsOf<typeof client.feed>>().toEqualTypeOf<{ tag: string } | undefined>()
    expectTypeOf<TopicParamsOf<typeof client.clock>>().toEqualTypeOf<undefined>()
    expectTypeOf(useSubscription<typeof client.feed>).toBeCallableWith(client.feed)
    expectTypeOf(useSubscription<typeof client.feed>).toBeCallableWith(client.feed, { tag: 'x' })
    expectTypeOf(useSubscription<typeof client.room>).toBeCallableWith(client.room, { room: 'a' })
  })

  it('topics without a params schema still take none', () => {
    client.clock.subscribe((message) => expectTypeOf(message).toEqualTypeOf<number>())
    // @ts-expect-error -- no params
    client.clock.subscribe(undefined, () => {})
  })
})

describe('endpointOf', () => {
  it('reads any value and narrows by kind', () => {
    const info = endpointOf(createClient(api, { url: 'ws://127.0.0.1:1' }).room)
    expectTypeOf(info).toEqualTypeOf<EndpointInfo | undefined>()
    if (info?.kind === 'topic') expectTypeOf(info.hasParams).toEqualTypeOf<boolean>()
    if (info?.kind === 'procedure') expectTypeOf(info.idempotent).toEqualTypeOf<boolean>()
    expectTypeOf(info?.path).toEqualTypeOf<string | undefined>()
  })
})
