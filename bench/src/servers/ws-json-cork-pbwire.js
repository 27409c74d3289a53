// Raw ws, coalesced, speaking Patchbay's wire messages (json): what the format costs alone.
import { serveRawWs } from '../lib/raw-ws-server.js'

await serveRawWs('json', true, 'patchbay')
