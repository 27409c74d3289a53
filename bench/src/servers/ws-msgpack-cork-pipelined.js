// Raw ws, msgpack envelope, writes coalesced per tick (the client flushes every 16 frames).
import { serveRawWs } from '../lib/raw-ws-server.js'

await serveRawWs('msgpack', true)
