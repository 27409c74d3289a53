// Raw ws, coalesced, speaking Patchbay's wire messages (json): what the format costs alone.
import { rawWsAdapter } from '../lib/raw-ws-client.js'
import { runLoad } from '../lib/load-main.js'

await runLoad(rawWsAdapter('json', true, 'patchbay'))
