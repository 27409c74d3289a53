// Raw ws speaking Patchbay's wire (json), loaded by the raw pipelined client: split-*'s baseline.
import { serveRawWs } from '../lib/raw-ws-server.js'

await serveRawWs('json', true, 'patchbay')
