// Raw ws, json envelope, coalesced, each broadcast framed once for all its members.
import { serveRawWs } from '../lib/raw-ws-server.js'

await serveRawWs('json', 'preframed')
