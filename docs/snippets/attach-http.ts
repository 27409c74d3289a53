// attach-http.ts: Patchbay on the HTTP server your app already has, on one path
import { createServer as createHttpServer } from 'node:http'
import { createServer } from '@patchbay/server'
import { api } from './api.js'

const patchbay = createServer(api, {
  origins: ['https://app.example'],
  handlers: {
    math: { add: ({ input }) => input.a + input.b },
    me: () => ({ user: null }),
  },
})

// Plain requests stay the app's; upgrades to /ws become Patchbay connections.
const http = createHttpServer((request, response) => {
  response.writeHead(200, { 'content-type': 'text/plain' })
  response.end('hello over HTTP\n')
})
patchbay.attach(http, { path: '/ws' })
http.listen(3000, '127.0.0.1')

// Shutting down: Patchbay closes its connections (1001, clients reconnect), then the server.
process.once('SIGTERM', () => void patchbay.close().then(() => http.close()))
