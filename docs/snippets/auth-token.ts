// auth-token.ts: a bearer token from the client, refreshed on every reconnect
import WebSocket from 'ws'
import { PatchbayError } from '@patchbay/core'
import { createServer } from '@patchbay/server'
import { createClient } from '@patchbay/client'
import { api } from './api.js'

declare function verifyJwt(token: string): { sub: string; exp: number }
declare function fetchAccessToken(): Promise<string>

const server = createServer(api, {
  // The token travels as a `patchbay.auth.*` subprotocol: browsers cannot set headers.
  context: ({ token }) => {
    if (token === undefined) throw new PatchbayError('UNAUTHORIZED', 'No token')
    try {
      const claims = verifyJwt(token)
      return { user: claims.sub, expiresAt: claims.exp * 1000 }
    } catch {
      throw new PatchbayError('UNAUTHORIZED', 'Invalid token') // never echoes the token
    }
  },
  // When the token expires the connection closes with 4401 and the client reconnects.
  expiresAt: (ctx) => ctx.expiresAt,
  handlers: {
    math: { add: ({ input }) => input.a + input.b },
    me: ({ ctx }) => ({ user: ctx.user }),
  },
})
await server.listen({ port: 3000 })

// A function, not a string: called before every connection, so a reconnect gets a fresh one.
const client = createClient(api, { url: 'ws://127.0.0.1:3000', WebSocket, token: fetchAccessToken })
console.log(await client.me())
