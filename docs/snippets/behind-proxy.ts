// behind-proxy.ts: the client's address and the public origin, as the proxy reports them
import { createServer } from '@patchbay/server'
import { api } from './api.js'

/** The proxies in front of this server: only their X-Forwarded-For is believed. */
const TRUSTED_PROXIES = new Set(['127.0.0.1', '::1'])

const server = createServer(api, {
  // The browser's Origin header passes through the proxy unchanged: list the public one.
  origins: ['https://app.example'],
  context: ({ request }) => {
    const peer = request.socket.remoteAddress
    const forwarded = request.headers['x-forwarded-for']
    // The last hop the trusted proxy appended is the client; anything before it is the client's word.
    const client = typeof forwarded === 'string' && peer !== undefined && TRUSTED_PROXIES.has(peer)
      ? forwarded.split(',').at(-1)?.trim()
      : peer
    return { clientAddress: client ?? 'unknown' }
  },
  // Pings every 25 s keep idle sockets under a proxy's read timeout (nginx: 60 s by default).
  heartbeatInterval: 25_000,
  handlers: {
    math: { add: ({ input }) => input.a + input.b },
    me: () => ({ user: null }),
  },
})
// Only the proxy reaches it: listen on loopback (the default host).
await server.listen({ port: 3000 })
