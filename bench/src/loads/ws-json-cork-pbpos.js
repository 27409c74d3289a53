// Raw ws, coalesced, speaking Patchbay's messages as positional arrays (json): a bench-only
// prototype of a terser envelope, measured against -pbwire (docs/benchmarks.md).
import { rawWsAdapter } from '../lib/raw-ws-client.js'
import { runLoad } from '../lib/load-main.js'

await runLoad(rawWsAdapter('json', true, 'positional'))
