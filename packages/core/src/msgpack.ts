/**
 * `@patchbay/core/msgpack`: the MessagePack codec for clients that opt into it
 * (docs/guide/bundling.md). The same wire codec as the root entry's `msgpackCodec`, without
 * the envelope reader a server uses to answer an undecodable request (a client closes 4400
 * on any frame that does not decode), so it costs msgpackr's pack and unpack and little else.
 */
export { msgpackClientCodec as msgpackCodec } from './codec-msgpack.js'
