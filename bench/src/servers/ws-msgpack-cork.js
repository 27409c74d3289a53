// Raw ws, msgpack envelope, writes coalesced per tick.
import { serveRawWs } from '../lib/raw-ws-server.js'

await serveRawWs('msgpack', true)
