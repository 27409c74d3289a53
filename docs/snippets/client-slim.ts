// client.ts: in the browser, from the router's shape: no zod and no msgpackr in the bundle
import { createClient } from '@patchbay/client/slim'
import { apiShape } from './api.shape.js'

const client = createClient(apiShape, { url: `wss://${location.host}/ws` })
export const sum = await client.math.add({ a: 40, b: 2 }) // number, from the router's types
