// migrate-trpc.ts: a tRPC subscription as a Patchbay topic (shared events) or stream (one caller's)
import { z } from 'zod'
import WebSocket from 'ws'
import { router, stream, topic } from '@patchbay/core'
import { createServer } from '@patchbay/server'
import { createClient } from '@patchbay/client'

const Price = z.object({ symbol: z.string(), price: z.number() })

export const api = router({
  // Events published elsewhere, the same for every subscriber of a symbol: a topic.
  prices: topic({ params: z.object({ symbol: z.string() }), message: Price }),
  // A sequence made for one caller from its input: a stream (pulled with credit).
  history: stream({ input: z.object({ symbol: z.string(), days: z.number().int() }), output: Price }),
})

declare function pricesSince(symbol: string, days: number): AsyncIterable<z.infer<typeof Price>>

const server = createServer(api, {
  handlers: {
    async *history({ input, signal }) {
      for await (const price of pricesSince(input.symbol, input.days)) {
        if (signal.aborted) return
        yield price
      }
    },
  },
  // What a slow subscriber gets: only the latest price, never a growing queue.
  topics: { prices: { backpressure: 'latest' } },
})
await server.listen({ port: 3001 })

// Where tRPC's handler listened to an EventEmitter, publish to the channel instead.
server.publish(api.prices, { symbol: 'ACME' }, { symbol: 'ACME', price: 101.5 })

const client = createClient(api, { url: 'ws://127.0.0.1:3001', WebSocket })
const off = client.prices.subscribe({ symbol: 'ACME' }, (price) => console.log(price.price))
for await (const price of client.history({ symbol: 'ACME', days: 7 })) console.log(price.price)
off() // tRPC: subscription.unsubscribe()
