// lifecycle.ts: reconnects that lose nothing, credentials that expire, a graceful restart
import { z } from 'zod'
import WebSocket from 'ws'
import { PatchbayError, procedure, router, topic } from '@patchbay/core'
import { createServer } from '@patchbay/server'
import { createClient } from '@patchbay/client'

export const shop = router({
  // Safe to run again: a call cut off by a dropped connection is retried with its key and
  // runs once on the server.
  placeOrder: procedure({ input: z.object({ sku: z.string() }), output: z.object({ order: z.string() }), idempotent: true }),
  orders: topic({ params: z.object({ user: z.string() }), message: z.object({ order: z.string(), status: z.string() }) }),
})

declare function verify(token: string | undefined): { user: string; expiresAt: number }
declare function fetchToken(): Promise<string>

const server = createServer(shop, {
  // The token arrives as a `patchbay.auth.*` subprotocol (browsers cannot set headers).
  context: ({ token }) => {
    try {
      return verify(token)
    } catch {
      throw new PatchbayError('UNAUTHORIZED', 'Sign in again') // HTTP 401; never echoes the token
    }
  },
  // At expiry the connection closes with 4401; the client comes back with a fresh token.
  expiresAt: (ctx) => ctx.expiresAt,
  // Keep the last 100 messages per channel: a client that reconnects resumes without a gap.
  topics: { orders: { history: 100, authorize: ({ ctx, params }) => ctx.user === params.user } },
  rateLimit: { perSecond: 200, burst: 400 },
  heartbeatInterval: 30_000,
  handlers: {
    placeOrder: async ({ input, ctx }) => {
      const order = `${ctx.user}-${input.sku}-${Date.now()}`
      server.publish(shop.orders, { user: ctx.user }, { order, status: 'placed' })
      return { order }
    },
  },
})
await server.listen({ port: 3000 })
// Graceful: stop accepting, let calls in flight finish, close clients with 1001 (they reconnect).
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)))

const client = createClient(shop, {
  url: 'ws://127.0.0.1:3000',
  WebSocket,
  token: fetchToken, // called before every connection
  // The defaults: retry with backoff capped at 10 s until close(), whatever the outage.
  reconnect: { retryDelay: 250, maxRetryDelay: 10_000 },
})
client.on('state', ({ state, code, reason }) => console.log(state, code ?? '', reason ?? ''))
client.orders.subscribe(
  { user: 'ada' },
  (update, { seq }) => console.log(seq, update.status),
  // After a restart of the server nobody can count what was missed: `missed` is undefined.
  { onLag: ({ missed }) => console.warn(missed === undefined ? 'the server restarted: reload' : `missed ${missed}`) },
)
const { order } = await client.placeOrder({ sku: 'tea' })
console.log(order)
