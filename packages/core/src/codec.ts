/**
 * The codec seam: what a codec is and how decoding fails. Each codec lives in its own module
 * (codec-json.ts, codec-msgpack.ts) so that a bundle takes only the codecs it names: a client
 * offering JSON alone carries no msgpackr (docs/guide/bundling.md).
 */
import type { Envelope } from './msgpack-envelope.js'
import type { Encoding, SubprotocolName } from './subprotocol.js'

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
  /**
   * Well-formed MessagePack holding a value the decoder cannot build: nesting deeper than it
   * can follow, or a map key that is bytes, an array, a map or an extension. `envelope` holds
   * the frame's `t` and `id`, so a request can be answered for its id (docs/protocol.md §9).
   */
  UNREPRESENTABLE: 'UNREPRESENTABLE',
} as const

/** Raised by {@link Codec.decode}. */
export class CodecError extends Error {
  override readonly name = 'CodecError'
  constructor(
    readonly kind: (typeof CodecErrorKind)[keyof typeof CodecErrorKind],
    message: string,
    /** For UNREPRESENTABLE: the frame's `t` and `id`, read without building its values. */
    readonly envelope?: Envelope,
  ) {
    super(message)
  }
}
