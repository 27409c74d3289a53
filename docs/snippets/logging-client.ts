// logging-client.ts: the client's logger: pino's browser build, the console default, or nothing
import { pino } from 'pino'
import { createClient } from '@patchbay/client'
import { api } from './api.js'

// pino in a browser writes objects to the console; `info` adds reconnects and lag.
const logger = pino({ level: 'info', browser: { asObject: true } })
const client = createClient(api, { url: `wss://${location.host}/ws`, logger })

// The default prints errors and warnings to the console; `false` prints nothing.
const quiet = createClient(api, { url: `wss://${location.host}/ws`, logger: false })
export const answers = await Promise.all([client.math.add({ a: 1, b: 2 }), quiet.math.add({ a: 3, b: 4 })])
