/**
 * A shape is typed against its router (docs/guide/bundling.md): a client made from it has
 * exactly the router's client type, and a shape that no longer matches the router does not
 * compile (a name missing or extra, a kind, a topic's params, a procedure's `idempotent`, the
 * features it imports).
 */
import { describe, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import { procedure, router, stream, topic } from '@patchbay/core'
import { createClient, type Client, type RouterShape } from '@patchbay/client'
import { streams, topics } from '@patchbay/client/features'
import { createClient as createSlimClient } from '@patchbay/client/slim'
import { msgpackCodec } from '@patchbay/client/msgpack'

const api = router({
  me: procedure({ output: z.string() }),
  save: procedure({ input: z.object({ x: z.number() }), output: z.null(), idempotent: true }),
  ticks: stream({ output: z.number() }),
  news: topic({ message: z.string() }),
  room: topic({ params: z.object({ room: z.string() }), message: z.string() }),
  nested: { ping: procedure({ input: z.number(), output: z.number() }) },
})
type Shape = RouterShape<typeof api>

const shape: Shape = { '~features': [topics, streams], me: 'procedure', save: 'idempotent procedure', ticks: 'stream', news: 'topic', room: 'topic with params', nested: { ping: 'procedure' } }

describe('router shapes', () => {
  it('type a client exactly as the router does, from either entry point', () => {
    expectTypeOf(createClient(shape, { url: 'ws://127.0.0.1:1' })).toEqualTypeOf<Client<typeof api>>()
    expectTypeOf(createClient(shape, { url: 'ws://127.0.0.1:1' })).toEqualTypeOf(createClient(api, { url: 'ws://127.0.0.1:1' }))
    expectTypeOf(createSlimClient(shape, { url: 'ws://127.0.0.1:1' })).toEqualTypeOf<Client<typeof api>>()
  })

  it('refuse a shape that no longer matches the router', () => {
    const { save: _save, ...missing } = shape
    expectTypeOf(missing).not.toExtend<Shape>()
    expectTypeOf({ ...shape, save: 'procedure' as const }).not.toExtend<Shape>()
    expectTypeOf({ ...shape, me: 'idempotent procedure' as const }).not.toExtend<Shape>()
    expectTypeOf({ ...shape, room: 'topic' as const }).not.toExtend<Shape>()
    expectTypeOf({ ...shape, ticks: 'procedure' as const }).not.toExtend<Shape>()
    expectTypeOf({ ...shape, nested: { ping: 'stream' as const } }).not.toExtend<Shape>()
    // The features its router needs, in the generator's order.
    const { '~features': _features, ...bare } = shape
    expectTypeOf(bare).not.toExtend<Shape>()
    expectTypeOf({ ...shape, '~features': [topics] as const }).not.toExtend<Shape>()
    expectTypeOf({ ...shape, '~features': [streams, topics] as const }).not.toExtend<Shape>()
    const calls = router({ add: procedure({ input: z.number(), output: z.number() }) })
    expectTypeOf(calls.add.idempotent).toEqualTypeOf<false>()
    expectTypeOf({ add: 'procedure' as const }).toExtend<RouterShape<typeof calls>>()
    expectTypeOf({ '~features': [topics] as const, add: 'procedure' as const }).not.toExtend<RouterShape<typeof calls>>()
    // An extra name: the object literal the generator writes is checked for excess names.
    // @ts-expect-error -- `gone` is not in the router
    const extra: Shape = { ...shape, gone: 'procedure' }
    expectTypeOf(extra).toEqualTypeOf<Shape>()
  })

  it('take codecs by object in the slim client, and JSON by name', () => {
    expectTypeOf(createSlimClient(shape, { url: 'ws://127.0.0.1:1', encodings: [msgpackCodec, 'json'] })).toEqualTypeOf<Client<typeof api>>()
    // @ts-expect-error -- msgpack is offered by its codec, never by name (msgpackr is optional)
    createSlimClient(shape, { url: 'ws://127.0.0.1:1', encodings: ['msgpack'] })
    // @ts-expect-error -- the same in the full client
    createClient(api, { url: 'ws://127.0.0.1:1', encodings: ['msgpack'] })
  })
})
