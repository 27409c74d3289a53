// tRPC 11 over its ws adapter (applyWSSHandler), JSON.
import { WebSocketServer } from 'ws'
import { applyWSSHandler } from '@trpc/server/adapters/ws'
import { appRouter } from '../lib/trpc-router.js'
import { LISTEN_BACKLOG, serve } from '../lib/server-main.js'

await serve(
  (params) =>
    new Promise((resolve) => {
      const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', backlog: LISTEN_BACKLOG }, () => {
        resolve(/** @type {import('node:net').AddressInfo} */ (wss.address()).port)
      })
      /** @type {import('../lib/trpc-router.js').Context} */
      const limits = {}
      if (typeof params.highWater === 'number') limits.highWater = params.highWater
      if (typeof params.batch === 'number') limits.batch = params.batch
      // The context carries the socket, for the stream's hand-written flow control only.
      applyWSSHandler({ wss, router: appRouter, createContext: ({ res }) => ({ ws: res, ...limits }) })
    }),
)
