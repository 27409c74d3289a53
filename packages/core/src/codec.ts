import { Packr, Unpackr } from 'msgpackr'
import { Subprotocol, type Encoding, type SubprotocolName } from './subprotocol.js'

/** A frame as it travels: text frames are strings, binary frames bytes. */
export type Frame = string | Uint8Array

/**
 * The seam between messages and frames, bound to one subprotocol (docs/protocol.md §2).
 * JSON speaks in text frames and msgpack in binary frames; each refuses the other kind.
 */
export interface Codec {
  /** Short name of the encoding. */
  readonly encoding: Encoding
  /** The subprotocol this codec is negotiated as. */
  readonly subprotocol: SubprotocolName
  /** True when frames are binary. */
  readonly binary: boolean
  /** Encodes one message into one frame. */
  encode(message: unknown): Frame
  /** Decodes one frame; throws {@link CodecError} on a frame of the wrong kind or bad bytes. */
  decode(frame: Frame): unknown
}

/** Why a frame could not be decoded. */
export const CodecErrorKind = {
  /** A text frame under a binary codec, or the reverse. */
  WRONG_FRAME_KIND: 'WRONG_FRAME_KIND',
  /** The bytes are not a valid encoding. */
  MALFORMED: 'MALFORMED',
} as const

/** Raised by {@link Codec.decode}. */
export class CodecError extends Error {
  override readonly name = 'CodecError'
  constructor(
    readonly kind: (typeof CodecErrorKind)[keyof typeof CodecErrorKind],
    message: string,
  ) {
    super(message)
  }
}

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

// useRecords: false keeps msgpackr's record extension out of what we send, so any msgpack
// implementation can read our frames. Records and other extensions a hostile peer sends are
// still decoded by msgpackr's global extension table; findNonPlainData refuses the values
// they produce (docs/protocol.md §9).
const packr = new Packr({ useRecords: false, moreTypes: false })
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, structuredClone: false })

/** MessagePack (msgpackr) in binary frames. */
export const msgpackCodec: Codec = {
  encoding: 'msgpack',
  subprotocol: Subprotocol.MSGPACK,
  binary: true,
  encode: (message) => packr.pack(message),
  decode(frame) {
    if (typeof frame === 'string') {
      throw new CodecError(CodecErrorKind.WRONG_FRAME_KIND, 'text frame under patchbay.v1.msgpack')
    }
    try {
      return unpackr.unpack(frame) as unknown
    } catch {
      throw new CodecError(CodecErrorKind.MALFORMED, 'frame is not valid MessagePack')
    }
  },
}

/** The codec of each encoding. */
export const codecs: Readonly<Record<Encoding, Codec>> = { json: jsonCodec, msgpack: msgpackCodec }

/** The codec negotiated as `subprotocol`, or `undefined` if it is not one of ours. */
export function codecForSubprotocol(subprotocol: string): Codec | undefined {
  if (subprotocol === Subprotocol.MSGPACK) return msgpackCodec
  if (subprotocol === Subprotocol.JSON) return jsonCodec
  return undefined
}
