// streams.ts: a server generator, a client `for await`, credit between them
import { z } from 'zod'
import WebSocket from 'ws'
import { router, stream } from '@patchbay/core'
import { createServer } from '@patchbay/server'
import { createClient } from '@patchbay/client'

const Tick = z.object({ symbol: z.string(), price: z.number(), at: z.number() })

export const market = router({
  market: {
    ticks: stream({ input: z.object({ symbol: z.string() }), output: Tick }),
  },
})

const server = createServer(market, {
  handlers: {
    market: {
      // Pulled only while the client has credit: a slow loop pauses this one at `yield`.
      async *ticks({ input, signal }) {
        let price = 100
        try {
          while (!signal.aborted) {
            price += Math.random() - 0.5
            yield { symbol: input.symbol, price, at: Date.now() }
            await new Promise((resolve) => setTimeout(resolve, 100))
          }
        } finally {
          // Runs when the client breaks, aborts or disconnects: release what you hold here.
        }
      },
    },
  },
})
await server.listen({ port: 3000 })

const client = createClient(market, { url: 'ws://127.0.0.1:3000', WebSocket })
for await (const tick of client.market.ticks({ symbol: 'ACME' }, { credit: 16 })) {
  console.log(tick.symbol, tick.price.toFixed(2))
  if (tick.price > 101) break // cancels the generator on the server
}
