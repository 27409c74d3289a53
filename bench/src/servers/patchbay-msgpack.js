// Patchbay, msgpack subprotocol (patchbay.v1.msgpack).
import { servePatchbay } from '../lib/patchbay-server.js'

await servePatchbay('msgpack')
