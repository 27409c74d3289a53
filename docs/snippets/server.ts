// server.ts
import { createServer, type HandshakeInfo } from '@patchbay/server'
import { api } from './api.js'

const server = createServer(api, {
  // Runs once per connection, at the handshake. Annotate the parameter so TypeScript
  // carries the context type into the handlers.
  context: ({ cookies }: HandshakeInfo) => ({ user: cookies.session ?? null }),
  handlers: {
    math: { add: ({ input }) => input.a + input.b },
    me: ({ ctx }) => ({ user: ctx.user }),
  },
})

const { port } = await server.listen({ port: 3000 })
console.log(`listening on ws://localhost:${port}`)
