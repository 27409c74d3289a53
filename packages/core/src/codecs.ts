/** Every codec by encoding and by subprotocol: for servers, which speak both. */
import type { Codec } from './codec.js'
import { jsonCodec } from './codec-json.js'
import { msgpackCodec } from './codec-msgpack-server.js'
import { Subprotocol, type Encoding } from './subprotocol.js'

/** The codec of each encoding. */
export const codecs: Readonly<Record<Encoding, Codec>> = { json: jsonCodec, msgpack: msgpackCodec }

/** The codec negotiated as `subprotocol`, or `undefined` if it is not one of ours. */
export function codecForSubprotocol(subprotocol: string): Codec | undefined {
  if (subprotocol === Subprotocol.MSGPACK) return msgpackCodec
  if (subprotocol === Subprotocol.JSON) return jsonCodec
  return undefined
}
