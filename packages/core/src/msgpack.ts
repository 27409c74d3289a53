/**
 * `@patchbay/core/msgpack`: the MessagePack codecs, the only entry of `@patchbay/core` that
 * imports msgpackr (an optional peer dependency: a JSON-only app, in the browser or in Node,
 * installs and bundles none of it; docs/guide/bundling.md).
 *
 * - `msgpackCodec`, for clients: msgpackr's pack and unpack and little else (a client closes
 *   4400 on any frame that does not decode).
 * - `msgpackServerCodec`, for servers: the same wire codec, plus the envelope reader a server
 *   uses to answer an undecodable request for its id (docs/protocol.md §9).
 */
export { msgpackClientCodec as msgpackCodec } from './codec-msgpack.js'
export { msgpackCodec as msgpackServerCodec } from './codec-msgpack-server.js'
