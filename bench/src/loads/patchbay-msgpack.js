// Patchbay, msgpack subprotocol (patchbay.v1.msgpack).
import { patchbayAdapter } from '../lib/patchbay-client.js'
import { runLoad } from '../lib/load-main.js'

await runLoad(patchbayAdapter('msgpack'))
