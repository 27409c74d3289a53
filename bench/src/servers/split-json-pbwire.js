// Raw ws speaking Patchbay's wire (json): split-json-pbwire's server, and split-json-client's (under Patchbay's client).
import { serveRawWs } from '../lib/raw-ws-server.js'

await serveRawWs('json', true, 'patchbay')
