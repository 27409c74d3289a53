// connections.ts: list connections, send to one, close one (an admin's kick)
import { z } from 'zod'
import { CloseCode, procedure, router, topic } from '@patchbay/core'
import { createServer, type HandshakeInfo } from '@patchbay/server'

const api = router({
  hello: procedure({ output: z.string() }),
  // Declared like any topic; the server makes it per connection below.
  inbox: topic({ message: z.object({ text: z.string() }) }),
})

const server = createServer(api, {
  context: (info: HandshakeInfo) => ({ user: info.url.searchParams.get('user') ?? 'guest' }),
  // Every connection that subscribes to `inbox` gets a channel of its own.
  topics: { inbox: { scope: 'connection' } },
  handlers: { hello: ({ ctx, connection }) => `${ctx.user} on ${connection.id}` },
})
await server.listen({ port: 3000 })

// An admin endpoint's work: who is connected, a word to one of them, and a kick.
for (const { id, ctx, remoteAddress, openedAt } of server.connections()) {
  console.log(id, ctx.user, remoteAddress, new Date(openedAt).toISOString())
}

export function notify(connectionId: string, text: string): boolean {
  // 1 when that connection listens to its inbox here, else 0 (no params: `undefined`).
  return server.publishTo(connectionId, api.inbox, undefined, { text }) === 1
}

export function kick(user: string): number {
  let kicked = 0
  for (const connection of server.connections()) {
    // 4403: Patchbay's client does not reconnect. An application code (4000–4399) would.
    if (connection.ctx.user === user && server.disconnect(connection.id, CloseCode.FORBIDDEN, 'Removed by an admin')) kicked++
  }
  return kicked
}
