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
 * Bytes a token of each type from 0xc4 on takes beyond its first byte: `fixed` bytes, or
 * (`lengthBytes` > 0) a big-endian length in that many bytes plus that length plus `fixed`
 * (str, bin, ext). Array and map headers take only their own bytes: their elements are the
 * tokens that follow.
 */
const TOKEN: Readonly<Record<number, readonly [fixed: number, lengthBytes: number]>> = {
  0xc4: [0, 1], 0xc5: [0, 2], 0xc6: [0, 4],
  0xc7: [1, 1], 0xc8: [1, 2], 0xc9: [1, 4],
  0xca: [4, 0], 0xcb: [8, 0],
  0xcc: [1, 0], 0xcd: [2, 0], 0xce: [4, 0], 0xcf: [8, 0],
  0xd0: [1, 0], 0xd1: [2, 0], 0xd2: [4, 0], 0xd3: [8, 0],
  0xd4: [2, 0], 0xd5: [3, 0], 0xd6: [5, 0], 0xd7: [9, 0], 0xd8: [17, 0],
  0xd9: [0, 1], 0xda: [0, 2], 0xdb: [0, 4],
  0xdc: [2, 0], 0xdd: [4, 0], 0xde: [2, 0], 0xdf: [4, 0],
}

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
    const token = TOKEN[type]
    if (token === undefined) {
      at++ // nil, false, true
      continue
    }
    const [fixed, lengthBytes] = token
    let length = 0
    for (let i = 1; i <= lengthBytes; i++) length = length * 256 + (frame[at + i] as number)
    at += 1 + lengthBytes + fixed + length
  }
  return holdsUndefined
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
