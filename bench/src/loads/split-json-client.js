// Patchbay's client (json) against the raw server speaking its wire: the client's own cost.
import { patchbayAdapter } from '../lib/patchbay-client.js'
import { runLoad } from '../lib/load-main.js'

await runLoad(patchbayAdapter('json'))
