/**
 * How Patchbay writes MessagePack (docs/protocol.md §9): with msgpackr, except for one value.
 * msgpackr writes `undefined` as fixext 1 of type 0 (`d4 00 00`), an extension other
 * MessagePack implementations read as an unknown value (Python's `ExtType(0, b'\x00')`), where
 * JSON leaves the key out, or writes null in an array. Each frame is written by the fast
 * packr; only a frame that holds that extension is written again, by the slower packr that
 * writes `undefined` as JSON does.
 *
 * Whether a frame holds it is decided from the frame (`holdsUndefined`), exactly: a walk from
 * value to value steps over the bytes of strings, `bin` and numbers, so `d4 00 00` inside them
 * never costs a second encode. A frame up to 1 KiB (the hot path: `[2, id, 3]`, an event) is
 * first searched for the three bytes as before, and walked only where they turn up. A larger
 * one is walked first, for at most one value per 32 bytes: a result, event or item around a
 * large `bin` or string is done in a few steps, without reading its payload; a frame of many
 * small values runs out of steps and is searched from there on, and walked only where the
 * bytes turn up. Measured (bench/src/tools/msgpack-write.js: per-op ns, variants alternating,
 * paired ratios to the old byte search, on a loaded 2-core machine):
 * - the old byte search over the whole frame, then a second encode wherever `d4 00 00` was
 *   found: ~20 µs per MiB of zeros or text, ~100 µs per MiB of random bytes (0xd4 every 256
 *   bytes, a native search call each), and a whole second encode for bytes, strings or floats
 *   that merely hold the three bytes (`1.5 * n` floats often end in them: 2,000 such rows cost
 *   twice their encode). The new check: 0.70× of the old encode for a 1 MiB zero-filled
 *   `Uint8Array`, 0.30–0.40× for a random one or one holding `d4 00 00`, ~0.85× for a 1 MiB
 *   string, ~0.5× for the float rows; `[2, id, 3]`, an event and an item 1.00–1.03× (noise).
 * - always writing with the JSON-like packr: free on `[2, id, 3]`, but 1.2–1.3× on anything with
 *   maps (its map writer first collects the keys, testing each value against `skipValues`):
 *   every event and item would pay it.
 * - checking the value instead of the bytes (a walk of arrays and plain objects before
 *   encoding): free on payloads, but a property read per key, 1.1–1.2× on an item or rows.
 * - msgpackr's only hook is `encodeUndefinedAsNil`, which writes nil in maps too, where JSON
 *   leaves the key out.
 * - walking every large frame with no search: frees payloads anywhere, but a frame of many
 *   small values pays 1–3 ns a value, where the search costs ~0.03 ns a byte.
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

/** What {@link walk} returns when it met msgpackr's `undefined`. */
const UNDEFINED = -1

/**
 * Walks the frame value by value from `at` (where a value starts) for msgpackr's `undefined`,
 * fixext 1 of type 0, data 0 (`d4 00 00`): UNDEFINED when met, else the offset where it
 * stopped, the frame's length or past it at the end, or after `budget` values. Exact on what
 * msgpackr writes; 0xc1 (never written) counts as undefined: an encode, never a wrong frame.
 */
function walk(frame: Uint8Array, at: number, budget: number): number {
  const end = frame.length
  while (at < end && budget-- > 0) {
    const byte = frame[at] ?? 0
    const step = STEP[byte] ?? 0
    if (step > 0) {
      at += step
      continue
    }
    switch (byte) {
      case 0xd4: // fixext 1
        if (frame[at + 1] === 0 && frame[at + 2] === 0) return UNDEFINED
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
        return UNDEFINED
    }
  }
  return at
}

/** fixext 1: msgpackr's `undefined` is this, then type 0 and data 0 (d4 00 00). */
const FIXEXT1 = 0xd4
/** Frames up to this many bytes are searched by a loop: a native search costs ~14 ns a call. */
const TINY_FRAME = 48
/** Frames up to this many bytes are searched first, larger ones walked first. */
const SMALL_FRAME = 1024
/**
 * A large frame is walked for at most one value per this many bytes (a value's step costs
 * about what searching this many bytes does), then searched from there.
 */
const BYTES_PER_STEP = 32
/**
 * Candidates (0xd4 not followed by 00 00) a search looks at before it hands the frame to the
 * walk: random bytes hold a 0xd4 every 256, and a native search call for each would cost more.
 */
const CANDIDATES = 64

/** False when no `d4 00 00` follows `from` (nor too many 0xd4): then no undefined does. */
function mayHold(frame: Uint8Array, from: number): boolean {
  const length = frame.length
  if (length <= TINY_FRAME) {
    for (let at = from; at < length - 2; at++) {
      if (frame[at] === FIXEXT1 && frame[at + 1] === 0 && frame[at + 2] === 0) return true
    }
    return false
  }
  let left = CANDIDATES
  for (let at = frame.indexOf(FIXEXT1, from); at !== -1; at = frame.indexOf(FIXEXT1, at + 1)) {
    if ((frame[at + 1] === 0 && frame[at + 2] === 0) || --left === 0) return true
  }
  return false
}

/**
 * True when the frame holds msgpackr's `undefined`. A small frame is searched for the three
 * bytes, and walked only where they are. A large one is walked first, within a budget of
 * steps: a frame of a few values around a large `bin` or string is done with no search at all;
 * a frame of many small values runs out of steps and is searched from there, as cheaply as
 * before, and walked (exactly, past numbers and strings) only where the bytes turn up.
 */
function holdsUndefined(frame: Uint8Array): boolean {
  let from = 0
  if (frame.length > SMALL_FRAME) {
    from = walk(frame, 0, frame.length / BYTES_PER_STEP)
    if (from === UNDEFINED) return true
    if (from >= frame.length) return false
  }
  return mayHold(frame, from) && walk(frame, from, Infinity) === UNDEFINED
}

/** Encodes one message as MessagePack that any implementation can read. */
export function encodeMsgpack(message: unknown): Uint8Array {
  const frame = packr.pack(message)
  return holdsUndefined(frame) ? jsonLikePackr.pack(message) : frame
}
