// The raw client speaking Patchbay's wire (msgpack), writes flushed every 16 frames as Patchbay's client's: split-msgpack-pbwire's load, and split-msgpack-server's.
import { rawWsAdapter } from '../lib/raw-ws-client.js'
import { runLoad } from '../lib/load-main.js'

await runLoad(rawWsAdapter('msgpack', 'pipelined', 'patchbay'))
