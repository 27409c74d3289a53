// Raw ws, json envelope, writes coalesced per tick.
import { serveRawWs } from '../lib/raw-ws-server.js'

await serveRawWs('json', true)
