// tRPC 11 over its ws adapter (applyWSSHandler), JSON.
import { WebSocketServer } from 'ws'
import { applyWSSHandler } from '@trpc/server/adapters/ws'
import { appRouter } from '../lib/trpc-router.js'
import { serve } from '../lib/server-main.js'

await serve(
  () =>
    new Promise((resolve) => {
      const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' }, () => {
        resolve(/** @type {import('node:net').AddressInfo} */ (wss.address()).port)
      })
      applyWSSHandler({ wss, router: appRouter })
    }),
)
