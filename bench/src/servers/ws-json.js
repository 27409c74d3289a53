// Raw ws, json envelope, one write per message.
import { serveRawWs } from '../lib/raw-ws-server.js'

await serveRawWs('json', false)
