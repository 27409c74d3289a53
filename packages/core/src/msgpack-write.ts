/**
 * How Patchbay writes MessagePack (docs/protocol.md §4.1, §9): with msgpackr, so that any
 * MessagePack implementation reads the frame as the JSON codec's reader would read the same
 * message. msgpackr alone departs from that in two ways, both fixed here at a cost only to the
 * frames concerned:
 * - it writes `undefined` as fixext 1 of type 0 (`d4 00 00`), an extension other
 *   implementations read as an unknown value, where JSON leaves the key out (or writes null
 *   in an array);
 * - it writes an integer outside 32 bits as a float 64, which Python reads as a float and a
 *   typed Go or Rust field refuses, where JSON writes an integer.
 * Each frame is written by the fast packr. A frame holding a float 64 or a fixext 1 byte at all
 * is then walked once, token by token: a wide integer is rewritten in place as the 64-bit
 * integer of the same size, and only a frame that holds an `undefined` is written again, by
 * the slower packr that writes it as JSON does.
 */
import { Packr, type Options } from 'msgpackr'

// useRecords: false keeps msgpackr's record extension out of what we send, so any msgpack
// implementation can read our frames.
const packr = new Packr({ useRecords: false, moreTypes: false })
// skipValues leaves undefined out of maps, encodeUndefinedAsNil writes it as nil in arrays;
// together ~20% slower than `packr`. (skipValues is read by msgpackr but missing from its types.)
const JSON_LIKE_OPTIONS: Options & { skipValues: unknown[] } = { useRecords: false, moreTypes: false, skipValues: [undefined], encodeUndefinedAsNil: true }
const jsonLikePackr = new Packr(JSON_LIKE_OPTIONS)

/** fixext 1: msgpackr's `undefined` is this, then type 0 and data 0 (d4 00 00). */
const FIXEXT1 = 0xd4
/** float 64: how msgpackr writes a number that is not a 32-bit integer. */
const FLOAT64 = 0xcb

const float = new Float64Array(1)
const floatBytes = new Uint8Array(float.buffer)
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/**
 * Walks the tokens of a frame msgpackr wrote, in order (MessagePack is prefix-encoded, so
 * no stack is needed), rewriting in place every float 64 that holds a safe integer outside
 * 32 bits as a uint 64 or int 64 of the same 9 bytes. Returns true if the frame holds an
 * `undefined` (which takes a new encode: leaving a key out changes its map's header).
 */
function rewriteTokens(frame: Uint8Array): boolean {
  let holdsUndefined = false
  let at = 0
  while (at < frame.length) {
    const type = frame[at] as number
    if (type < 0xc0 || type >= 0xe0) {
      // fixint, fixmap, fixarray (headers only), fixstr (header and bytes), negative fixint
      at += type >= 0xa0 && type <= 0xbf ? 1 + (type & 0x1f) : 1
      continue
    }
    if (type === FLOAT64) {
      rewriteFloat(frame, at)
      at += 9
      continue
    }
    if (type === FIXEXT1 && frame[at + 1] === 0 && frame[at + 2] === 0) holdsUndefined = true
    at += tokenLength(frame, at, type)
  }
  return holdsUndefined
}

/** Bytes of the token at `at` of type 0xc0–0xdf; an array or map header counts alone (its elements follow). */
function tokenLength(frame: Uint8Array, at: number, type: number): number {
  switch (type) {
    case 0xc4: case 0xd9: return 2 + (frame[at + 1] as number) // bin 8, str 8
    case 0xc5: case 0xda: return 3 + readUint(frame, at + 1, 2) // bin 16, str 16
    case 0xc6: case 0xdb: return 5 + readUint(frame, at + 1, 4) // bin 32, str 32
    case 0xc7: return 3 + (frame[at + 1] as number) // ext 8
    case 0xc8: return 4 + readUint(frame, at + 1, 2) // ext 16
    case 0xc9: return 6 + readUint(frame, at + 1, 4) // ext 32
    case 0xca: case 0xce: case 0xd2: case 0xdd: case 0xdf: return 5 // float 32, (u)int 32, array 32, map 32
    case 0xcc: case 0xd0: return 2
    case 0xcd: case 0xd1: case 0xdc: case 0xde: return 3 // (u)int 16, array 16, map 16
    case 0xcb: case 0xcf: case 0xd3: return 9
    case 0xd4: return 3 // fixext 1
    case 0xd5: return 4
    case 0xd6: return 6
    case 0xd7: return 10
    case 0xd8: return 18
    default: return 1 // nil, (never used), false, true
  }
}

function readUint(frame: Uint8Array, at: number, bytes: number): number {
  let value = 0
  for (let i = 0; i < bytes; i++) value = value * 256 + (frame[at + i] as number)
  return value
}

function rewriteFloat(frame: Uint8Array, at: number): void {
  // Wide integers have a biased exponent from 1054 (2^31) to 1075 (2^52): a first byte, sign
  // aside, of 0x41 to 0x43. Most other floats stop here.
  const high = (frame[at + 1] as number) & 0x7f
  if (high < 0x41 || high > 0x43) return
  for (let i = 0; i < 8; i++) floatBytes[littleEndian ? 7 - i : i] = frame[at + 1 + i] as number
  const value = float[0] as number
  if (!((value > 0xffffffff || value < -0x80000000) && Number.isSafeInteger(value))) return
  // Two's complement in two 32-bit halves: exact for any safe integer.
  const high32 = Math.floor(value / 0x100000000)
  const low32 = value - high32 * 0x100000000
  frame[at] = value < 0 ? 0xd3 : 0xcf
  writeUint32(frame, at + 1, high32 >>> 0)
  writeUint32(frame, at + 5, low32)
}

function writeUint32(frame: Uint8Array, at: number, value: number): void {
  frame[at] = value >>> 24
  frame[at + 1] = (value >>> 16) & 0xff
  frame[at + 2] = (value >>> 8) & 0xff
  frame[at + 3] = value & 0xff
}

/** Frames up to this many bytes are searched by a loop: a native search costs ~14 ns a call. */
const SMALL_FRAME = 48

function mayNeedRewrite(frame: Uint8Array): boolean {
  if (frame.length > SMALL_FRAME) return frame.indexOf(FLOAT64) !== -1 || frame.indexOf(FIXEXT1) !== -1
  for (let i = 0; i < frame.length; i++) {
    const byte = frame[i]
    if (byte === FLOAT64 || byte === FIXEXT1) return true
  }
  return false
}

/** Encodes one message as MessagePack that any implementation reads as JSON's reader would. */
export function encodeMsgpack(message: unknown): Uint8Array {
  const frame = packr.pack(message)
  // A frame with neither byte (most) needs no walk.
  if (!mayNeedRewrite(frame)) return frame
  if (!rewriteTokens(frame)) return frame
  const rewritten = jsonLikePackr.pack(message)
  rewriteTokens(rewritten)
  return rewritten
}
