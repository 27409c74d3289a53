/**
 * The server's codecs, by subprotocol. A server speaks both encodings, so it imports
 * msgpackr (a dependency of @patchbay/server) through `@patchbay/core/msgpack`, the one
 * entry of core that does: core's root entry stays free of it for JSON-only clients.
 */
import { Subprotocol, jsonCodec, type Codec, type Encoding } from '@patchbay/core'
import { msgpackServerCodec } from '@patchbay/core/msgpack'

/** The codec negotiated as `subprotocol`, or `undefined` if it is not one of ours. */
export function codecForSubprotocol(subprotocol: string): Codec | undefined {
  if (subprotocol === Subprotocol.MSGPACK) return msgpackServerCodec
  if (subprotocol === Subprotocol.JSON) return jsonCodec
  return undefined
}

/** The server's codec of each encoding. */
export const codecs: Readonly<Record<Encoding, Codec>> = { json: jsonCodec, msgpack: msgpackServerCodec }
