// react-integration.ts: what the client tells an integration about its functions
import { endpointOf } from '@patchbay/client'
import { client } from './react-query.js'

// Path and kind of any function of the tree: keys, logs, devtools.
const add = endpointOf(client.math.add) // { kind: 'procedure', path: 'math.add', idempotent: false }
const room = endpointOf(client.chat.room) // { kind: 'topic', path: 'chat.room', hasParams: true }
console.log(add?.path, room?.kind === 'topic' && room.hasParams)

// A subscription hears its end (a refusal, or the client closing under it), and a reconnect
// suspending it and the server confirming it again.
const off = client.chat.room.subscribe({ room: 'lobby' }, (message) => console.log(message.text), {
  onEnd: (error) => console.log(`ended: ${error.code}`), // FORBIDDEN, CONNECTION_LOST…
  onLive: (live) => console.log(live ? 'live again' : 'suspended by a reconnect'),
})
await off.ready
console.log(off.live) // true while confirmed on the open connection
