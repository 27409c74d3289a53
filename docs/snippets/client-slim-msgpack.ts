// client-msgpack.ts: the same client opting into msgpack, offered first, JSON as the fallback
import { createClient } from '@patchbay/client/slim'
import { msgpackCodec } from '@patchbay/client/msgpack'
import { apiShape } from './api.shape.js'

const client = createClient(apiShape, { url: `wss://${location.host}/ws`, encodings: [msgpackCodec, 'json'] })
export const me = await client.me()
