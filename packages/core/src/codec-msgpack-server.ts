/** The MessagePack codec as servers use it: an undecodable frame's envelope is read (§9). */
import { CodecError, CodecErrorKind, type Codec } from './codec.js'
import { createMsgpackCodec } from './codec-msgpack.js'
import { readMsgpackEnvelope } from './msgpack-envelope.js'
import { encodeMsgpack } from './msgpack-write.js'

/**
 * MessagePack (msgpackr) in binary frames. A frame msgpackr refuses is read again, without
 * building its values, for its tag and id: UNREPRESENTABLE with that envelope, so the
 * request can be answered for its id; MALFORMED when even that fails.
 */
const wireCodec = createMsgpackCodec((frame) => {
  // Only frames msgpackr refused pay for this second, value-free pass over their bytes.
  const envelope = readMsgpackEnvelope(frame)
  if (envelope === undefined) return new CodecError(CodecErrorKind.MALFORMED, 'frame is not valid MessagePack')
  return new CodecError(CodecErrorKind.UNREPRESENTABLE, 'frame holds a value that cannot be decoded (nesting too deep, or a map key that is not a string)', envelope)
})

/** The server writes with the exact check (msgpack-write.ts), which clients leave out of their bundle. */
export const msgpackCodec: Codec = { ...wireCodec, encode: encodeMsgpack }
