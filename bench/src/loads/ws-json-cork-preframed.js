// Raw ws, json envelope, coalesced: the client of ws-json-cork (only the server frames once).
import { rawWsAdapter } from '../lib/raw-ws-client.js'
import { runLoad } from '../lib/load-main.js'

await runLoad(rawWsAdapter('json', true))
