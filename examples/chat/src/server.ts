/**
 * The example's server: one http.Server serving the page and, on /ws, Patchbay.
 * PORT (default 3000, 0 for any) and HOST (default 127.0.0.1) come from the environment.
 */
import { createServer as createHttpServer } from 'node:http'
import { readFile } from 'node:fs/promises'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createServer } from '@patchbay/server'
import { api } from './api.js'
import { Presence, RoomStore } from './store.js'

const publicDir = join(fileURLToPath(new URL('.', import.meta.url)), 'public')
const types: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css' }
const store = new RoomStore()
const presence = new Presence()
const announce = (room: string): void => {
  patchbay.publish(api.chat.presence, { room }, { online: presence.online(room) })
}

const http = createHttpServer((request, response) => {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname
  const file = path === '/' ? 'index.html' : path.slice(1)
  // Only the files the build puts in public/, never a path outside it.
  if (!/^[\w.-]+$/.test(file)) {
    response.writeHead(404).end('Not found')
    return
  }
  readFile(join(publicDir, file)).then(
    (body) => response.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream' }).end(body),
    () => response.writeHead(404).end('Not found'),
  )
})

const patchbay = createServer(api, {
  // Browsers send Origin; only pages served by this server may connect. Non-browser
  // clients send none and pass.
  origins: (origin) => origin === undefined || allowedOrigins.has(origin),
  // A page that reconnects gets the room messages it missed replayed (up to 100).
  topics: { chat: { room: { history: 100 } } },
  handlers: {
    chat: {
      send: ({ input }) => {
        const message = store.add(input.room, input.author, input.text)
        // Validated and encoded once, however many are in the room.
        patchbay.publish(api.chat.room, { room: input.room }, message)
        return { id: message.id, at: message.at }
      },
      history: ({ input }) => store.history(input.room, input.limit),
      join: ({ input, connection }) => {
        const online = presence.join(input.room, connection.id, input.name)
        announce(input.room)
        return { online }
      },
      leave: ({ input, connection }) => {
        if (presence.leave(input.room, connection.id)) announce(input.room)
        return null
      },
    },
  },
  onClose: ({ connection }) => {
    for (const room of presence.leaveAll(connection.id)) announce(room)
  },
})
patchbay.attach(http, { path: '/ws' })

const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'
const allowedOrigins = new Set<string>()

http.listen(port, host, () => {
  const address = http.address()
  const bound = typeof address === 'object' && address !== null ? address.port : port
  for (const name of ['localhost', '127.0.0.1', host]) allowedOrigins.add(`http://${name}:${bound}`)
  console.log(`listening on http://localhost:${bound}`)
})

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void patchbay.close().then(() => http.close(() => process.exit(0)))
  })
}
