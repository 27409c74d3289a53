// Patchbay, json subprotocol (patchbay.v1.json).
import { servePatchbay } from '../lib/patchbay-server.js'

await servePatchbay('json')
