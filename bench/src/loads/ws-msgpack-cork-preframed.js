// Raw ws, msgpack envelope, coalesced: the client of ws-msgpack-cork (only the server frames once).
import { rawWsAdapter } from '../lib/raw-ws-client.js'
import { runLoad } from '../lib/load-main.js'

await runLoad(rawWsAdapter('msgpack', true))
