// The raw client speaking Patchbay's wire (json), writes flushed every 16 frames as Patchbay's client's: split-json-pbwire's load, and split-json-server's.
import { rawWsAdapter } from '../lib/raw-ws-client.js'
import { runLoad } from '../lib/load-main.js'

await runLoad(rawWsAdapter('json', 'pipelined', 'patchbay'))
