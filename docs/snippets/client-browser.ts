// client-browser.ts: the browser's own WebSocket is the default
import { createClient } from '@patchbay/client'
import { msgpackCodec } from '@patchbay/client/msgpack' // needs `npm install msgpackr`
import { api } from './api.js'

const client = createClient(api, {
  url: `wss://${location.host}/ws`,
  encodings: [msgpackCodec, 'json'], // offered in this order; the server picks the first it supports
})
export const answer = await client.math.add({ a: 40, b: 2 })
