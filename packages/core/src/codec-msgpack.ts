/**
 * The MessagePack codec, on msgpackr's pack and unpack. Its own module, reached only by code
 * that names a msgpack codec, so bundles that do not use one carry no msgpackr.
 */
import { Unpackr } from 'msgpackr'
import { CodecError, CodecErrorKind, type Codec } from './codec.js'
import { encodeMsgpackBySearch } from './msgpack-write.js'
import { Subprotocol } from './subprotocol.js'

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

/**
 * MessagePack (msgpackr) in binary frames. `undecodable` says why a frame msgpackr refused
 * cannot be decoded: the server's codec (codec-msgpack-server.ts) reads the frame's envelope
 * to answer its request (§9); a client closes 4400 whatever the reason, so its codec keeps that
 * reader out of the bundle.
 */
export function createMsgpackCodec(undecodable: (frame: Uint8Array) => CodecError): Codec {
  return {
    encoding: 'msgpack',
    subprotocol: Subprotocol.MSGPACK,
    binary: true,
    encode: encodeMsgpackBySearch,
    decode(frame) {
      if (typeof frame === 'string') {
        throw new CodecError(CodecErrorKind.WRONG_FRAME_KIND, 'text frame under patchbay.v1.msgpack')
      }
      try {
        return unpackFrame(frame)
      } catch {
        throw undecodable(frame)
      }
    },
  }
}

/**
 * MessagePack in binary frames, for clients (`@patchbay/core/msgpack`): the wire codec of
 * {@link msgpackCodec}, reporting every frame msgpackr refuses as MALFORMED.
 */
export const msgpackClientCodec: Codec = createMsgpackCodec(() => new CodecError(CodecErrorKind.MALFORMED, 'frame is not valid MessagePack'))
