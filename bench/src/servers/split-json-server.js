// Patchbay's server (json) under the raw pipelined client of split-json-pbwire: the server's own cost.
import { servePatchbay } from '../lib/patchbay-server.js'

await servePatchbay('json')
