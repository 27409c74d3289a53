// attach-upgrade.ts: when something else routes upgrades, hand Patchbay only its own
import { createServer as createHttpServer } from 'node:http'
import { createServer } from '@patchbay/server'
import { api } from './api.js'

const patchbay = createServer(api, {
  handlers: {
    math: { add: ({ input }) => input.a + input.b },
    me: () => ({ user: null }),
  },
})

const http = createHttpServer()
http.on('upgrade', (request, socket, head) => {
  const { pathname } = new URL(request.url ?? '/', 'http://localhost')
  if (pathname === '/ws') patchbay.handleUpgrade(request, socket, head)
  // else: another WebSocket server's path (a dev server's hot reload, say)
})
http.listen(3000, '127.0.0.1')
