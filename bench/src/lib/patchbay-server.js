/**
 * Patchbay's server (createServer + listen) with the bench router. It accepts both
 * encodings; the load picks one by the subprotocol it offers.
 */
import { createServer } from '@patchbay/server'
import { api } from './patchbay-api.js'
import { serve } from './server-main.js'

/** @param {'json' | 'msgpack'} encoding */
export function servePatchbay(encoding) {
  return serve(async () => {
    const server = createServer(api, {
      encodings: [encoding],
      // The load sends 100k+ calls/s on one socket, past the default per-connection rate
      // limit (10k/s); the peers have no rate limiting, so none here either.
      rateLimit: false,
      handlers: { math: { add: ({ input }) => input.a + input.b } },
    })
    const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
    return port
  })
}
