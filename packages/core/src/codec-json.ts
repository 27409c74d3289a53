/** The JSON codec: no dependency, always cheap to bundle. */
import { CodecError, CodecErrorKind, type Codec } from './codec.js'
import { Subprotocol } from './subprotocol.js'

/** JSON in text frames. */
export const jsonCodec: Codec = {
  encoding: 'json',
  subprotocol: Subprotocol.JSON,
  binary: false,
  encode: (message) => JSON.stringify(message),
  decode(frame) {
    if (typeof frame !== 'string') {
      throw new CodecError(CodecErrorKind.WRONG_FRAME_KIND, 'binary frame under patchbay.v1.json')
    }
    try {
      return JSON.parse(frame) as unknown
    } catch {
      throw new CodecError(CodecErrorKind.MALFORMED, 'frame is not valid JSON')
    }
  },
}
