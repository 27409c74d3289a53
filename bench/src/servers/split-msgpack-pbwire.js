// Raw ws speaking Patchbay's wire (msgpack): split-msgpack-pbwire's server, and split-msgpack-client's (under Patchbay's client).
import { serveRawWs } from '../lib/raw-ws-server.js'

await serveRawWs('msgpack', true, 'patchbay')
