// Raw ws, json envelope, writes coalesced per tick.
import { rawWsAdapter } from '../lib/raw-ws-client.js'
import { runLoad } from '../lib/load-main.js'

await runLoad(rawWsAdapter('json', true))
