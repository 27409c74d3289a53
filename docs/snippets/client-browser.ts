// client-browser.ts: the browser's own WebSocket is the default
import { createClient } from '@patchbay/client'
import { api } from './api.js'

const client = createClient(api, {
  url: `wss://${location.host}/ws`,
  encodings: ['msgpack', 'json'], // offered in this order; the server picks the first it supports
})
export const answer = await client.math.add({ a: 40, b: 2 })
