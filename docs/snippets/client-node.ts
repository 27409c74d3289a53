// client-node.ts: Node 20 has no global WebSocket, so pass `ws`
import WebSocket from 'ws'
import { createClient } from '@patchbay/client'
import { api } from './api.js'

const client = createClient(api, { url: 'ws://localhost:3000', WebSocket })
const sum = await client.math.add({ a: 1, b: 2 }, { timeout: 5_000 })
console.log(sum, 'over', client.encoding)
await client.close()
