/**
 * How Patchbay writes MessagePack (docs/protocol.md §9): with msgpackr, except for one value.
 * msgpackr writes `undefined` as fixext 1 of type 0 (`d4 00 00`), an extension other
 * MessagePack implementations read as an unknown value (Python's `ExtType(0, b'\x00')`), where
 * JSON leaves the key out, or writes null in an array. Each frame is written by the fast
 * packr; only a frame that holds that extension is written again, by the slower packr that
 * writes `undefined` as JSON does.
 *
 * Whether a frame holds it is read from the frame's tokens (`holdsUndefined`): a walk from
 * token to token that steps over the bytes of strings, `bin` and numbers, so it costs one step
 * per value, nothing per payload byte, and finds only real `undefined`s. Measured
 * (bench/src/tools/msgpack-write.js, per encode, paired, against the fast packr alone):
 * - searching the bytes for `d4 00 00` (what this did before) cost ~55 µs per MiB of `bin` or
 *   string, and a second encode whenever the three bytes sat inside a payload or a float (a
 *   1 MiB random `Uint8Array` holds 0xd4 ~4,000 times; `1.5 * n` floats often end `d4 00 00`);
 * - always writing with the JSON-like packr costs nothing on `[2, id, 3]` but ~25% on maps
 *   (its map writer first collects the keys, testing each value against `skipValues`), so
 *   every event and item would pay it;
 * - checking the value instead of the bytes (a walk of arrays and plain objects before
 *   encoding) costs a property read per key: ~15% on map-heavy payloads, more than the tokens;
 * - msgpackr has no hook for `undefined` but `encodeUndefinedAsNil`, which writes nil in maps
 *   too, where JSON leaves the key out.
 * The token walk costs the hot path what the byte search did (a few values), frees `bin` and
 * string payloads of any cost, and on structure-heavy frames costs ~1–2 ns a value (~5–10% of
 * encoding them), against the byte search's ~0.05 ns a byte but its second encodes.
 *
 * Integers outside 32 bits stay as msgpackr writes them, a `float 64` (§4.1 asks every
 * receiver to accept one): writing them as `uint 64` would cost every frame holding a float a
 * token walk here and every such integer a BigInt in msgpackr's reader, ~10% of a stream of
 * timestamped items.
 */
import { Packr, type Options } from 'msgpackr'

// useRecords: false keeps msgpackr's record extension out of what we send, so any msgpack
// implementation can read our frames.
const packr = new Packr({ useRecords: false, moreTypes: false })
// skipValues leaves undefined out of maps, encodeUndefinedAsNil writes it as nil in arrays;
// together ~25% slower than `packr` on maps. (skipValues is read by msgpackr but missing from its types.)
const JSON_LIKE_OPTIONS: Options & { skipValues: unknown[] } = { useRecords: false, moreTypes: false, skipValues: [undefined], encodeUndefinedAsNil: true }
const jsonLikePackr = new Packr(JSON_LIKE_OPTIONS)

/** A 32-bit big-endian length at `at`. */
function length32(frame: Uint8Array, at: number): number {
  return (frame[at] ?? 0) * 0x1000000 + (((frame[at + 1] ?? 0) << 16) | ((frame[at + 2] ?? 0) << 8) | (frame[at + 3] ?? 0))
}

/** A 16-bit big-endian length at `at`. */
function length16(frame: Uint8Array, at: number): number {
  return ((frame[at] ?? 0) << 8) | (frame[at + 1] ?? 0)
}

/**
 * Bytes of the value that starts with each first byte, where that needs no more than the byte:
 * nil, booleans, numbers, fixstr, fixext 2-16, and the headers of arrays and maps (their
 * elements are the values that follow, so the walk needs no stack). 0 where the length is
 * read from the frame (bin, str 8-32, ext 8-32), for fixext 1 (msgpackr's undefined is
 * one) and for 0xc1, which no encoder writes.
 */
const STEP = new Uint8Array(256)
{
  const steps: [first: number, last: number, step: (byte: number) => number][] = [
    [0x00, 0x9f, () => 1], // positive fixint, fixmap, fixarray
    [0xa0, 0xbf, (byte) => 1 + (byte & 0x1f)], // fixstr
    [0xc0, 0xc0, () => 1], // nil
    [0xc2, 0xc3, () => 1], // false, true
    [0xca, 0xca, () => 5], // float 32
    [0xcb, 0xcb, () => 9], // float 64
    [0xcc, 0xcc, () => 2], // uint 8
    [0xcd, 0xcd, () => 3], // uint 16
    [0xce, 0xce, () => 5], // uint 32
    [0xcf, 0xcf, () => 9], // uint 64
    [0xd0, 0xd0, () => 2], // int 8
    [0xd1, 0xd1, () => 3], // int 16
    [0xd2, 0xd2, () => 5], // int 32
    [0xd3, 0xd3, () => 9], // int 64
    [0xd5, 0xd5, () => 4], // fixext 2
    [0xd6, 0xd6, () => 6], // fixext 4
    [0xd7, 0xd7, () => 10], // fixext 8
    [0xd8, 0xd8, () => 18], // fixext 16
    [0xdc, 0xdc, () => 3], // array 16
    [0xdd, 0xdd, () => 5], // array 32
    [0xde, 0xde, () => 3], // map 16
    [0xdf, 0xdf, () => 5], // map 32
    [0xe0, 0xff, () => 1], // negative fixint
  ]
  for (const [first, last, step] of steps) for (let byte = first; byte <= last; byte++) STEP[byte] = step(byte)
}

/**
 * True when the frame holds msgpackr's `undefined`: fixext 1 of type 0, data 0 (`d4 00 00`)
 * where a value starts. Exact on what msgpackr writes; 0xc1 (never written) answers true,
 * which costs an encode, never a wrong frame.
 */
function holdsUndefined(frame: Uint8Array): boolean {
  const end = frame.length
  let at = 0
  while (at < end) {
    const byte = frame[at] ?? 0
    const step = STEP[byte] ?? 0
    if (step > 0) {
      at += step
      continue
    }
    switch (byte) {
      case 0xd4: // fixext 1
        if (frame[at + 1] === 0 && frame[at + 2] === 0) return true
        at += 3
        break
      case 0xc4: // bin 8
      case 0xd9: // str 8
        at += 2 + (frame[at + 1] ?? 0)
        break
      case 0xc5: // bin 16
      case 0xda: // str 16
        at += 3 + length16(frame, at + 1)
        break
      case 0xc6: // bin 32
      case 0xdb: // str 32
        at += 5 + length32(frame, at + 1)
        break
      case 0xc7: // ext 8: length, type, data
        at += 3 + (frame[at + 1] ?? 0)
        break
      case 0xc8: // ext 16
        at += 4 + length16(frame, at + 1)
        break
      case 0xc9: // ext 32
        at += 6 + length32(frame, at + 1)
        break
      default: // 0xc1
        return true
    }
  }
  return false
}

/** fixext 1: msgpackr's `undefined` is this, then type 0 and data 0 (d4 00 00). */
const FIXEXT1 = 0xd4
/** Frames up to this many bytes are searched by a loop: a native search costs ~14 ns a call. */
const TINY_FRAME = 48
/**
 * Frames up to this many bytes are searched for the three bytes first (a few ns, where a walk
 * costs 1-3 ns a value), and walked only where found; larger ones are walked at once, so a
 * large `bin` or string costs no search.
 */
const SMALL_FRAME = 1024

/** True when the frame's bytes hold `d4 00 00` anywhere: inside a value too. */
function holdsBytes(frame: Uint8Array): boolean {
  if (frame.length <= TINY_FRAME) {
    for (let at = 0; at < frame.length - 2; at++) {
      if (frame[at] === FIXEXT1 && frame[at + 1] === 0 && frame[at + 2] === 0) return true
    }
    return false
  }
  for (let at = frame.indexOf(FIXEXT1); at !== -1; at = frame.indexOf(FIXEXT1, at + 1)) {
    if (frame[at + 1] === 0 && frame[at + 2] === 0) return true
  }
  return false
}

/** Encodes one message as MessagePack that any implementation can read. */
export function encodeMsgpack(message: unknown): Uint8Array {
  const frame = packr.pack(message)
  const undefinedInside = frame.length <= SMALL_FRAME ? holdsBytes(frame) && holdsUndefined(frame) : holdsUndefined(frame)
  return undefinedInside ? jsonLikePackr.pack(message) : frame
}
