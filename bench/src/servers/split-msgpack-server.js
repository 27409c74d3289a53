// Patchbay's server (msgpack) under the raw pipelined client of split-msgpack-pbwire: the server's own cost.
import { servePatchbay } from '../lib/patchbay-server.js'

await servePatchbay('msgpack')
