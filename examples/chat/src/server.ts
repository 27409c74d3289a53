/**
 * The example's server: one http.Server serving the page and, on /ws, Patchbay.
 * From the environment: PORT (default 3000, 0 for any), HOST (default 127.0.0.1), REDIS_URL
 * (unset: topics in this process; set: on that Redis, shared with every chat server using it)
 * and NODE_ID (this server's name in presence; default `<host>:<port>`).
 */
import { createServer as createHttpServer } from 'node:http'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createServer } from '@patchbay/server'
import { api, Message, type Share } from './api.js'
import { engineFromEnv } from './engine.js'
import { serveStatic } from '@patchbay/example-kit'
import { currentShares, Presence } from './store.js'

const publicDir = join(fileURLToPath(new URL('.', import.meta.url)), 'public')
const { engine, description } = engineFromEnv(process.env)
const presence = new Presence()
/** Set once listening: the bound port names the node unless NODE_ID does. */
let node = process.env.NODE_ID ?? ''

/** Publishes this node's share of `room`'s presence; resolves once the engine took it. */
async function announce(room: string): Promise<void> {
  await patchbay.publish(api.chat.presence, { room }, { node, online: presence.online(room) })
}
/** Announcing from a hook nobody awaits: a failure (Redis down) is logged, never unhandled. */
function announceLater(room: string): void {
  announce(room).catch((error: unknown) => console.error(`presence of ${room} not published: ${String(error)}`))
}

const http = createHttpServer((request, response) => {
  serveStatic(publicDir, request, response).catch(() => response.headersSent || response.writeHead(500).end('Internal error'))
})

const patchbay = createServer(api, {
  // Browsers send Origin; only pages served by this server may connect. Non-browser
  // clients send none and pass.
  origins: (origin) => origin === undefined || allowedOrigins.has(origin),
  engine,
  topics: {
    chat: {
      // The room's history is the topic's: a page that reconnects gets what it missed
      // replayed, and `chat.history` reads it with server.history (on Redis, from every node).
      // Kept an hour after the room's last subscriber leaves.
      room: { history: 200, retainMs: 3_600_000 },
      // Enough for `join` to find the latest share of every node in the room.
      presence: { history: 100 },
    },
  },
  handlers: {
    chat: {
      send: async ({ input }) => {
        // Ids unique across nodes: pages drop a message they already show by id.
        const message: Message = { id: randomUUID(), room: input.room, author: input.author, text: input.text, at: Date.now() }
        // Validated and encoded once, however many are in the room; stored in its history.
        await patchbay.publish(api.chat.room, { room: input.room }, message)
        return { id: message.id, at: message.at }
      },
      // Annotated: these read the server they belong to (server.history), and TypeScript
      // cannot infer a handler's result from the server its own type comes from.
      history: async ({ input }): Promise<Message[]> => {
        // The topic's own history, typed as its messages (on Redis, shared by every node).
        const { events } = await patchbay.history(api.chat.room, { room: input.room }, { limit: input.limit })
        return events.map(({ data }) => data)
      },
      join: async ({ input, connection }): Promise<{ shares: Share[] }> => {
        presence.join(input.room, connection.id, input.name)
        await announce(input.room)
        // The other nodes' shares, from the presence topic's history.
        const { events } = await patchbay.history(api.chat.presence, { room: input.room })
        return { shares: currentShares(events, { node, online: presence.online(input.room) }) }
      },
      leave: async ({ input, connection }) => {
        if (presence.leave(input.room, connection.id)) await announce(input.room)
        return null
      },
    },
  },
  onClose: ({ connection }) => {
    for (const room of presence.leaveAll(connection.id)) announceLater(room)
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
  if (node === '') node = `${host}:${bound}`
  console.log(`listening on http://localhost:${bound} (node ${node}, ${description})`)
})

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    // Tell the other nodes that nobody is here any more before the connections go.
    const rooms = presence.clear()
    void Promise.allSettled(rooms.map(announce))
      .then(() => patchbay.close())
      .then(() => http.close(() => process.exit(0)))
  })
}
