// errors.ts: typed errors on the server, stable codes on the client
import { z } from 'zod'
import WebSocket from 'ws'
import { PatchbayError, isPatchbayError, procedure, router } from '@patchbay/core'
import { createServer } from '@patchbay/server'
import { createClient } from '@patchbay/client'

const shop = router({
  buy: procedure({ input: z.object({ sku: z.string() }), output: z.object({ order: z.string() }) }),
})

createServer(shop, {
  handlers: {
    buy: ({ input }) => {
      if (input.sku === 'lamp') {
        // Code, message and data reach the client as they are.
        throw new PatchbayError('OUT_OF_STOCK', 'No lamps left', { data: { sku: input.sku } })
      }
      // Any other throw reaches the client as INTERNAL "Internal server error".
      return { order: 'o-1' }
    },
  },
})

const client = createClient(shop, { url: 'ws://localhost:3000', WebSocket })
try {
  await client.buy({ sku: 'lamp' })
} catch (error) {
  if (isPatchbayError(error, 'OUT_OF_STOCK')) console.log(error.data)
  else if (isPatchbayError(error, 'BAD_REQUEST')) console.log(error.issues)
  else throw error
}
