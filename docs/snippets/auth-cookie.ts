// auth-cookie.ts: a session cookie, read once at the handshake
import { PatchbayError } from '@patchbay/core'
import { createServer } from '@patchbay/server'
import { api } from './api.js'

declare function sessionUser(sessionId: string): Promise<string | undefined>

const server = createServer(api, {
  // Browsers send the page's cookies with the upgrade: refuse other sites' pages.
  origins: ['https://app.example'],
  context: async ({ cookies }) => {
    const user = cookies.session === undefined ? undefined : await sessionUser(cookies.session)
    if (user === undefined) throw new PatchbayError('UNAUTHORIZED', 'Log in first') // HTTP 401
    return { user }
  },
  handlers: {
    math: { add: ({ input }) => input.a + input.b },
    me: ({ ctx }) => ({ user: ctx.user }),
  },
})
await server.listen({ port: 3000 })
