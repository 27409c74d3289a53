import { Unpackr } from 'msgpackr'
import { readMsgpackEnvelope, type Envelope } from './msgpack-envelope.js'
import { encodeMsgpack } from './msgpack-write.js'
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

// Records and other extensions a hostile peer sends are decoded by msgpackr's global extension
// table; findNonPlainData refuses the values they produce (docs/protocol.md §9).
const UNPACK_OPTIONS = { useRecords: false, mapsAsObjects: true, structuredClone: false } as const

/**
 * int64AsType 'auto': standard encoders (Python, Go, Rust, Java) write integers of 2^32 and up,
 * and sometimes small ones, as uint64/int64; those within ±2^53 decode as ordinary numbers, and
 * only larger ones stay BigInts, which the id checks and the plain-data walk refuse (§4.1, §9).
 * msgpackr reads it from the instance at decode time; its types lag its runtime ('auto').
 */
function withAutoInt64(unpackr: Unpackr): Unpackr {
  return Object.assign(unpackr, { int64AsType: 'auto' })
}
const unpackr = withAutoInt64(new Unpackr(UNPACK_OPTIONS))

// msgpackr reads through a DataView that it makes for, and stores on, each buffer it is given
// (~120 ns, a third of decoding a small message), and every frame arrives as a new buffer. A
// frame up to SCRATCH_BYTES is copied into one long-lived scratch buffer instead, whose
// DataView msgpackr keeps: what msgpackr's own docs advise for reused buffers. Its `bin`
// values are then copies (copyBuffers), never views into the scratch; larger frames decode in
// place, as before. A Buffer in Node, for msgpackr's native string paths.
const SCRATCH_BYTES = 4096
const scratchUnpackr = withAutoInt64(new Unpackr({ ...UNPACK_OPTIONS, copyBuffers: true }))
let scratch: Uint8Array | undefined
/** Bytes of the scratch buffer the last frame filled; every byte past them is zero. */
let scratchUsed = 0

function newScratch(): Uint8Array {
  const NodeBuffer = (globalThis as { Buffer?: { alloc(size: number): Uint8Array } }).Buffer
  return NodeBuffer === undefined ? new Uint8Array(SCRATCH_BYTES) : NodeBuffer.alloc(SCRATCH_BYTES)
}

function unpackFrame(frame: Uint8Array): unknown {
  const length = frame.byteLength
  if (length > SCRATCH_BYTES) return unpackr.unpack(frame)
  const buffer = (scratch ??= newScratch())
  buffer.set(frame)
  // A truncated frame makes msgpackr read past its end before it fails: there it must find
  // zeros, never the rest of an earlier, longer frame (perhaps another connection's).
  if (scratchUsed > length) buffer.fill(0, length, scratchUsed)
  scratchUsed = length
  return scratchUnpackr.unpack(buffer, length)
}

/** MessagePack (msgpackr) in binary frames. */
export const msgpackCodec: Codec = {
  encoding: 'msgpack',
  subprotocol: Subprotocol.MSGPACK,
  binary: true,
  encode: encodeMsgpack,
  decode(frame) {
    if (typeof frame === 'string') {
      throw new CodecError(CodecErrorKind.WRONG_FRAME_KIND, 'text frame under patchbay.v1.msgpack')
    }
    try {
      return unpackFrame(frame)
    } catch {
      // Only frames msgpackr refused pay for this second, value-free pass over their bytes.
      const envelope = readMsgpackEnvelope(frame)
      if (envelope === undefined) throw new CodecError(CodecErrorKind.MALFORMED, 'frame is not valid MessagePack')
      throw new CodecError(CodecErrorKind.UNREPRESENTABLE, 'frame holds a value that cannot be decoded (nesting too deep, or a map key that is not a string)', envelope)
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
