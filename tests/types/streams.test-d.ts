/**
 * Compiled type tests for stream procedures and backpressure options: what handlers yield,
 * what a `for await` loop receives, and the options each side takes.
 */
import { describe, expectTypeOf, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { router, stream, topic, type inferRouterInputs, type inferRouterOutputs } from '@patchbay/core'
import { createServer } from '@patchbay/server'
import { createClient, type LagEvent } from '@patchbay/client'

const api = router({
  market: {
    // The caller passes a string; the handler sees its length. Items: the caller gets a Date.
    ticks: stream({ input: z.object({ symbol: z.string().transform((s) => s.length) }), output: z.object({ at: z.string().transform((s) => new Date(s)) }) }),
    cursor: topic({ message: z.object({ x: z.number() }), backpressure: 'latest' }),
  },
  counter: stream({ output: z.number() }),
})

describe('stream types', () => {
  it('infers inputs and items for the router helpers', () => {
    expectTypeOf<inferRouterInputs<typeof api>['market']['ticks']>().toEqualTypeOf<{ symbol: string }>()
    expectTypeOf<inferRouterOutputs<typeof api>['market']['ticks']>().toEqualTypeOf<{ at: Date }>()
    expectTypeOf<inferRouterInputs<typeof api>['counter']>().toEqualTypeOf<undefined>()
  })

  it('gives handlers the parsed input and makes them yield the item schema input', () => {
    createServer(api, {
      handlers: {
        market: {
          async *ticks({ input, signal, resumed }) {
            expectTypeOf(input.symbol).toEqualTypeOf<number>()
            expectTypeOf(signal).toEqualTypeOf<AbortSignal>()
            expectTypeOf(resumed).toEqualTypeOf<{ received: number } | undefined>()
            yield { at: '2026-01-01' }
          },
        },
        async *counter() {
          yield 1
        },
      },
    })
    createServer(api, {
      handlers: {
        market: {
          // @ts-expect-error -- an item must match the output schema's input
          async *ticks() {
            yield { at: 5 }
          },
        },
        async *counter() {
          yield 1
        },
      },
    })
  })

  it('makes a client stream an async iterator of parsed items', async () => {
    const client = createClient(api, { url: 'ws://127.0.0.1:1', WebSocket, highWaterMark: 65_536 })
    const ticks = client.market.ticks({ symbol: 'ACME' }, { credit: 8, signal: new AbortController().signal })
    expectTypeOf(ticks).toEqualTypeOf<AsyncIterableIterator<{ at: Date }>>()
    for await (const n of client.counter()) expectTypeOf(n).toEqualTypeOf<number>()
    // @ts-expect-error -- the input is required
    client.market.ticks()
    // @ts-expect-error -- the input's own type, not the parsed one
    client.market.ticks({ symbol: 3 })
    expectTypeOf(client.drained()).toEqualTypeOf<Promise<void>>()
    client.market.cursor.subscribe(() => {}, { onLag: (lag) => expectTypeOf(lag).toEqualTypeOf<LagEvent>() })
  })

  it('takes backpressure options per server and per topic', () => {
    createServer(api, {
      backpressure: { highWaterMark: 1 << 16, maxBuffered: 1 << 22 },
      topics: { market: { cursor: { backpressure: 'drop', highWaterMark: 4096 } } },
      handlers: {
        market: {
          async *ticks() {
            yield { at: '' }
          },
        },
        async *counter() {
          yield 1
        },
      },
    })
    // @ts-expect-error -- not a policy
    topic({ message: z.number(), backpressure: 'sometimes' })
  })
})
