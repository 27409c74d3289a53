// Raw ws, msgpack envelope, one write per message.
import { rawWsAdapter } from '../lib/raw-ws-client.js'
import { runLoad } from '../lib/load-main.js'

await runLoad(rawWsAdapter('msgpack', false))
