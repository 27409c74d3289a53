// The raw server of split-json-pbwire under Patchbay's client: the client's own cost.
import { serveRawWs } from '../lib/raw-ws-server.js'

await serveRawWs('json', true, 'patchbay')
