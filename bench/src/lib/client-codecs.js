/**
 * Patchbay's client codec for each encoding name: a client offers JSON by name and
 * MessagePack by its codec (`@patchbay/client/msgpack`).
 */
import { jsonCodec } from '@patchbay/core'
import { msgpackCodec } from '@patchbay/client/msgpack'

/** @type {Readonly<Record<'json' | 'msgpack', import('@patchbay/core').Codec>>} */
export const clientCodecs = { json: jsonCodec, msgpack: msgpackCodec }
