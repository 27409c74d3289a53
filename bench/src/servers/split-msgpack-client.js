// The raw server of split-msgpack-pbwire under Patchbay's client: the client's own cost.
import { serveRawWs } from '../lib/raw-ws-server.js'

await serveRawWs('msgpack', true, 'patchbay')
