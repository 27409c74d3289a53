/**
 * The client's codec for each encoding, for tests that run once per encoding. A client offers
 * JSON by name and MessagePack by its codec (`@patchbay/client/msgpack`), so a JSON-only app
 * carries no msgpackr; tests that loop over both names map them here.
 */
import { jsonCodec, type Codec, type Encoding } from '@patchbay/core'
import { msgpackCodec } from '@patchbay/client/msgpack'
import { msgpackServerCodec } from '@patchbay/core/msgpack'

const CODECS: Readonly<Record<Encoding, Codec>> = { json: jsonCodec, msgpack: msgpackCodec }

/** The client codec that offers `encoding`. */
export function codec(encoding: Encoding): Codec {
  return CODECS[encoding]
}

const SERVER_CODECS: Readonly<Record<Encoding, Codec>> = { json: jsonCodec, msgpack: msgpackServerCodec }

/** The server's codec for `encoding` (msgpack's also reads an undecodable frame's envelope, §9). */
export function serverCodec(encoding: Encoding): Codec {
  return SERVER_CODECS[encoding]
}
