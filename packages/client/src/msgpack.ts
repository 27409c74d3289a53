/**
 * `@patchbay/client/msgpack`: the MessagePack codec, to offer it
 * (`encodings: [msgpackCodec, 'json']`). It needs `msgpackr`, an optional peer dependency: a
 * client that speaks only JSON installs none of it, and so no native add-on in Node (msgpackr's
 * optional extractor). The same object as `@patchbay/core/msgpack`'s `msgpackCodec`.
 */
export { msgpackCodec } from '@patchbay/core/msgpack'
