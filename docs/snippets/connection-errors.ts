// connection-errors.ts: why a connection failed, on the client; unexpected errors logged on the server
import { z } from 'zod'
import WebSocket from 'ws'
import { isPatchbayError, procedure, router } from '@patchbay/core'
import { createServer, type Logger } from '@patchbay/server'
import { ConnectionFailure, createClient } from '@patchbay/client'

const api = router({ hello: procedure({ output: z.string() }) })

// Any logger of pino's shape (`pino()` itself); the default writes errors to the console.
declare const logger: Logger
createServer(api, { logger, handlers: { hello: () => 'hi' } })

const client = createClient(api, { url: 'ws://127.0.0.1:3000', WebSocket, reconnect: { retries: 5 } })
client.on('state', ({ state, failure }) => {
  // reconnecting connect ECONNREFUSED 127.0.0.1:3000: nothing accepts connections at ws://127.0.0.1:3000 (…)
  if (failure !== undefined) console.warn(state, failure.message)
})
try {
  await client.connect()
} catch (error) {
  if (isPatchbayError(error, 'CONNECTION_FAILED') && error.cause instanceof ConnectionFailure) {
    // 'refused' | 'dns' | 'network' | 'http' | 'subprotocol' | 'timeout' | 'closed' | 'token' | 'unknown'
    const { kind, systemCode, status, body, offered, answered, serverSubprotocols } = error.cause
    console.error(kind, systemCode ?? status, body, offered, answered ?? serverSubprotocols)
  }
  throw error
}
