// Raw ws, coalesced, speaking Patchbay's wire messages (msgpack): what the format costs alone.
import { serveRawWs } from '../lib/raw-ws-server.js'

await serveRawWs('msgpack', true, 'patchbay')
