/**
 * The example's server: one http.Server serving the page and, on /ws, Patchbay.
 * From the environment: PORT (default 3003, 0 for any), HOST (default 127.0.0.1), and
 * RATE_LIMIT, messages a second per connection (default 100; the burst is the same number).
 */
import { createServer as createHttpServer } from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createServer } from '@patchbay/server'
import { api, type Member, type RateLimit } from './api.js'
import { Boards } from './board.js'
import { serveStatic } from '@patchbay/example-kit'

const publicDir = join(fileURLToPath(new URL('.', import.meta.url)), 'public')
const boards = new Boards()

// Far below Patchbay's default (10,000 a second, bursts of 20,000) so a page can reach it:
// a page moving its pointer sends 60 positions a second, and its flood switch sends 600.
const perSecond = Number(process.env.RATE_LIMIT ?? 100)
const rateLimit: RateLimit = { perSecond, burst: perSecond }

function announce(board: string, member: Member, present: boolean): void {
  patchbay.publish(api.board.members, { board }, { member, present })
}

const http = createHttpServer((request, response) => {
  serveStatic(publicDir, request, response).catch(() => response.headersSent || response.writeHead(500).end('Internal error'))
})

const patchbay = createServer(api, {
  // Browsers send Origin; only pages served by this server may connect.
  origins: (origin) => origin === undefined || allowedOrigins.has(origin),
  rateLimit,
  topics: {
    board: {
      cursor: {
        authorizePublish: ({ params, data, connection }) => {
          // A connection moves only its own cursor, and only on the board it joined.
          const allowed = params.id === connection.id && boards.isOn(params.board, connection.id)
          // The one place the server sees a client's publish: a yes here publishes it (at once,
          // on the in-process topic engine), so this is where the cursor now is.
          if (allowed) boards.moved(params.id, data)
          return allowed
        },
      },
    },
  },
  handlers: {
    board: {
      join: ({ input, connection }) => {
        const { you, members, left } = boards.join(input.board, connection.id, input.name)
        if (left !== undefined) announce(left.board, left.member, false)
        announce(input.board, you, true)
        return { you, members, rateLimit }
      },
      positions: ({ input }) => boards.positionsOn(input.board),
    },
  },
  onClose: ({ connection }) => {
    const left = boards.leave(connection.id)
    if (left !== undefined) announce(left.board, left.member, false)
  },
})
patchbay.attach(http, { path: '/ws' })

const port = Number(process.env.PORT ?? 3003)
const host = process.env.HOST ?? '127.0.0.1'
const allowedOrigins = new Set<string>()

http.listen(port, host, () => {
  const address = http.address()
  const bound = typeof address === 'object' && address !== null ? address.port : port
  for (const name of ['localhost', '127.0.0.1', host]) allowedOrigins.add(`http://${name}:${bound}`)
  console.log(`listening on http://localhost:${bound} (rate limit ${perSecond} messages/s per connection)`)
})

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void patchbay.close().then(() => http.close(() => process.exit(0))))
}
