/**
 * How Patchbay writes MessagePack (docs/protocol.md §9): with msgpackr, except for one value.
 * msgpackr writes `undefined` as fixext 1 of type 0 (`d4 00 00`), an extension other
 * MessagePack implementations read as an unknown value (Python's `ExtType(0, b'\x00')`), where
 * JSON leaves the key out, or writes null in an array. Each frame is written by the fast
 * packr; only a frame whose bytes may hold that extension is written again, by the slower
 * packr that writes `undefined` as JSON does.
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
// together ~20% slower than `packr`. (skipValues is read by msgpackr but missing from its types.)
const JSON_LIKE_OPTIONS: Options & { skipValues: unknown[] } = { useRecords: false, moreTypes: false, skipValues: [undefined], encodeUndefinedAsNil: true }
const jsonLikePackr = new Packr(JSON_LIKE_OPTIONS)

/** fixext 1: msgpackr's `undefined` is this, then type 0 and data 0 (d4 00 00). */
const FIXEXT1 = 0xd4
/** Frames up to this many bytes are searched by a loop: a native search costs ~14 ns a call. */
const SMALL_FRAME = 48

/**
 * True when the frame may hold an `undefined`. False positives (the same three bytes inside a
 * string, bytes or a number) cost one more encode, never a wrong frame; there are no false
 * negatives, since msgpackr writes every `undefined` as exactly these bytes.
 */
function mayHoldUndefined(frame: Uint8Array): boolean {
  if (frame.length <= SMALL_FRAME) {
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
  return mayHoldUndefined(frame) ? jsonLikePackr.pack(message) : frame
}
