// Raw ws, coalesced, speaking Patchbay's messages as positional arrays (json): a bench-only
// prototype of a terser envelope, measured against -pbwire (docs/benchmarks.md).
import { serveRawWs } from '../lib/raw-ws-server.js'

await serveRawWs('json', true, 'positional')
