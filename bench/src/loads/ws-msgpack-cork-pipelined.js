// Raw ws, msgpack envelope, writes coalesced per tick and flushed every 16 frames, as
// Patchbay's Node client sends: what that alone does to the raw loop.
import { rawWsAdapter } from '../lib/raw-ws-client.js'
import { runLoad } from '../lib/load-main.js'

await runLoad(rawWsAdapter('msgpack', 'pipelined'))
