/**
 * How Patchbay writes MessagePack (docs/protocol.md §9): with msgpackr, except for one value.
 * msgpackr writes `undefined` as fixext 1 of type 0 (`d4 00 00`), an extension other
 * MessagePack implementations read as an unknown value (Python's `ExtType(0, b'\x00')`), where
 * JSON leaves the key out, or writes null in an array. Each frame is written by the fast
 * packr; only a frame that holds that extension is written again, by the slower packr that
 * writes `undefined` as JSON does.
 *
 * The server decides whether a frame holds it from the frame (`holdsUndefined`), exactly: a walk from
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
 * Clients keep the byte search alone (`encodeMsgpackBySearch`): the walk would cost their
 * bundle ~250 bytes min+gzip, over what tests/bundle/size.test.ts allows, and a client's frames
 * are mostly small calls.
 *
 * Integers outside 32 bits stay as msgpackr writes them, a `float 64` (§4.1 asks every
 * receiver to accept one): writing them as `uint 64` would cost every frame holding a float a
 * token walk here and every such integer a BigInt in msgpackr's reader, ~10% of a stream of
 * timestamped items.
 */
import { Packr, type Options } from 'msgpackr'

// useRecords: false keeps msgpackr's record extension out of what we send, so any msgpack
// implementation can read our frames.
const OPTIONS: Options = { useRecords: false, moreTypes: false }
const packr = new Packr(OPTIONS)
// skipValues leaves undefined out of maps, encodeUndefinedAsNil writes it as nil in arrays;
// together ~25% slower than `packr` on maps. (skipValues is read by msgpackr but missing from its types.)
const JSON_LIKE_OPTIONS: Options & { skipValues: unknown[] } = { ...OPTIONS, skipValues: [undefined], encodeUndefinedAsNil: true }
const jsonLikePackr = new Packr(JSON_LIKE_OPTIONS)

/**
 * Bytes of the value that starts with each first byte from 0xc0 to 0xdf, as character codes
 * after '0': nil, (c1, which no encoder writes), false, true, bin 8-32, ext 8-32, float 32/64,
 * uint 8-64, int 8-64, fixext 1-16, str 8-32, and the headers of array and map 16/32 (their
 * elements are the values that follow, so the walk needs no stack). '0' where a length
 * follows in the frame: bin, ext and str.
 */
const STEPS = '11110000005923592359346:B0003535'

/**
 * Walks the frame value by value from `at` (where a value starts) for msgpackr's `undefined`,
 * fixext 1 of type 0, data 0 (`d4 00 00`): -1 when met, else where it stopped: at the end (the
 * frame's length or past it), or after `budget` values. Exact on what msgpackr writes.
 */
function walk(frame: Uint8Array, at: number, budget: number): number {
  while (at < frame.length && budget-- > 0) {
    const byte = frame[at] ?? 0
    if (byte === 0xd4 && frame[at + 1] === 0 && frame[at + 2] === 0) return -1
    // positive fixint, fixmap, fixarray and negative fixint: 1; fixstr: 1 + its length.
    const step = byte < 0xa0 || byte > 0xdf ? 1 : byte < 0xc0 ? byte - 0x9f : STEPS.charCodeAt(byte - 0xc0) - 48
    if (step > 0) {
      at += step
      continue
    }
    // bin 8/16/32 (c4-c6), ext 8/16/32 (c7-c9: a type byte after the length), str 8/16/32
    // (d9-db): a big-endian length of 1, 2 or 4 bytes, then the data.
    const lengthBytes = 1 << (byte > 0xd8 ? byte - 0xd9 : (byte - 0xc4) % 3)
    let length = 0
    for (let i = 1; i <= lengthBytes; i++) length = length * 256 + (frame[at + i] ?? 0)
    at += 1 + lengthBytes + (byte > 0xc6 && byte < 0xca ? 1 : 0) + length
  }
  return at
}

/**
 * True when the frame holds msgpackr's `undefined`. A frame up to 1 KiB is searched for the
 * three bytes, and walked only where they are. A larger one is walked first, for at most one
 * value per 32 bytes (a step costs about what searching 32 bytes does): a frame of a few values
 * around a large `bin` or string is done with no search at all; a frame of many small values
 * runs out of steps and is searched from there, as cheaply as before, and walked (exactly, past
 * numbers and strings) only where the bytes turn up.
 */
function holdsUndefined(frame: Uint8Array): boolean {
  const length = frame.length
  let from = 0
  if (length > 1024) {
    from = walk(frame, 0, length / 32)
    if (from < 0 || from >= length) return from < 0
  }
  return mayHold(frame, from, 64) && walk(frame, from, Infinity) < 0
}

/**
 * True when `d4 00 00` follows `from` in the frame's bytes, anywhere, or `candidates` lone 0xd4
 * do (the server's check passes 64: random bytes hold one every 256, and a native search call
 * for each would cost more than its walk).
 */
function mayHold(frame: Uint8Array, from: number, candidates: number): boolean {
  const length = frame.length
  if (length <= 48) {
    // A native search costs ~14 ns a call: a frame this small is searched by a loop.
    for (let at = from; at < length - 2; at++) if (frame[at] === 0xd4 && frame[at + 1] === 0 && frame[at + 2] === 0) return true
    return false
  }
  for (let at = frame.indexOf(0xd4, from); at !== -1; at = frame.indexOf(0xd4, at + 1)) {
    if ((frame[at + 1] === 0 && frame[at + 2] === 0) || --candidates === 0) return true
  }
  return false
}

/**
 * Encodes one message as MessagePack that any implementation can read: the server's encoder
 * (codec-msgpack-server.ts), a second encode only for a frame that holds an `undefined`.
 */
export function encodeMsgpack(message: unknown): Uint8Array {
  const frame = packr.pack(message)
  return holdsUndefined(frame) ? jsonLikePackr.pack(message) : frame
}

/**
 * The same frames, for clients: the bytes are searched (as {@link holdsUndefined} does for a
 * small frame) and the frame is written again wherever `d4 00 00` turns up, inside a payload
 * too, without the walk, which would cost the client's bundle ~250 bytes min+gzip
 * (tests/bundle/size.test.ts allows it ~150). A client's frames are mostly small calls.
 */
export function encodeMsgpackBySearch(message: unknown): Uint8Array {
  const frame = packr.pack(message)
  return mayHold(frame, 0, Infinity) ? jsonLikePackr.pack(message) : frame
}
