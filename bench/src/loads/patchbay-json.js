// Patchbay, json subprotocol (patchbay.v1.json).
import { patchbayAdapter } from '../lib/patchbay-client.js'
import { runLoad } from '../lib/load-main.js'

await runLoad(patchbayAdapter('json'))
