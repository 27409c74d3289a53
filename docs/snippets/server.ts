// server.ts
import { createServer } from '@patchbay/server'
import { api } from './api.js'

const server = createServer(api, {
  // Runs once per connection, at the handshake; handlers see what it returns as `ctx`.
  context: ({ cookies }) => ({ user: cookies.session ?? null }),
  handlers: {
    math: { add: ({ input }) => input.a + input.b },
    me: ({ ctx }) => ({ user: ctx.user }),
  },
})

const { port } = await server.listen({ port: 3000 })
console.log(`listening on ws://localhost:${port}`)
