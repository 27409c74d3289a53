/**
 * docs/protocol.md §4.1, §9: how Patchbay writes MessagePack. Every safe integer outside 32
 * bits goes out as a uint64/int64 (msgpackr writes a float64, rewritten in place), `undefined`
 * as JSON writes it (left out of maps, nil in arrays), and nothing else changes: strings,
 * bytes and floats that happen to hold the bytes the rewrite looks for come through intact.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { Unpackr } from 'msgpackr'
import { msgpackCodec } from '@patchbay/core'

/** A reader that keeps 64-bit integers apart from floats, as Python, Go and Rust do. */
const strict = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint' })

const wide = fc.oneof(fc.integer({ min: 2 ** 32, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: -Number.MAX_SAFE_INTEGER, max: -(2 ** 31) - 1 }))
const leaf = fc.oneof(
  fc.integer(),
  wide,
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ unit: 'grapheme' }),
  fc.uint8Array({ maxLength: 24 }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  // Bytes that look like a float64 holding a wide integer, and like msgpackr's undefined.
  fc.constantFrom(Uint8Array.from([0xcb, 0x42, 0x70, 0, 0, 0, 0, 0, 0]), Uint8Array.from([0xd4, 0, 0]), '\u00cbBp', 2 ** 53, -(2 ** 53), 2 ** 32 - 1, -(2 ** 31)),
)
const value = fc.letrec((tie) => ({
  any: fc.oneof({ depthSize: 'small' }, leaf, tie('list'), tie('map')),
  list: fc.array(tie('any'), { maxLength: 5 }),
  map: fc.dictionary(fc.string({ maxLength: 6 }), tie('any'), { maxKeys: 5 }),
})).any

/** What a strict reader should see: wide safe integers as BigInts, undefined as JSON writes it. */
function strictly(value: unknown, inArray: boolean): unknown {
  if (value === undefined) return inArray ? null : undefined
  if (typeof value === 'number') {
    if ((value > 0xffffffff || value < -0x80000000) && Number.isSafeInteger(value)) return BigInt(value)
    return Object.is(value, -0) ? 0 : value
  }
  if (value instanceof Uint8Array) return value
  if (Array.isArray(value)) return value.map((item) => strictly(item, true))
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) if (item !== undefined) out[key] = strictly(item, false)
    return out
  }
  return value
}

/** Bytes as arrays (a Buffer and a Uint8Array alike); BigInts as numbers when `numbers`. */
function canon(value: unknown, numbers: boolean): unknown {
  if (typeof value === 'bigint') return numbers ? Number(value) : value
  if (value instanceof Uint8Array) return { bytes: [...value] }
  if (Array.isArray(value)) return value.map((item) => canon(item, numbers))
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, canon(item, numbers)]))
  return value
}

describe('§4.1 msgpack writing', () => {
  it('writes wide integers as integers and undefined as JSON does; nothing else changes', () => {
    fc.assert(
      fc.property(value, (v) => {
        const message = { t: 'result', id: 1, output: v }
        const frame = msgpackCodec.encode(message) as Uint8Array
        const expected = strictly(message, false)
        // 64-bit integers exactly where integers outside 32 bits were, floats elsewhere.
        expect(canon(strict.unpack(frame), false)).toEqual(canon(expected, false))
        // Patchbay's own reader: every one of them an ordinary number again.
        expect(canon(msgpackCodec.decode(frame), true)).toEqual(canon(expected, true))
      }),
      { numRuns: 1000 },
    )
  })

  it('never writes a float64 for a safe integer outside 32 bits', () => {
    const frame = Buffer.from(msgpackCodec.encode({ t: 'event', ch: 2 ** 40, seq: 2 ** 33, data: [1764500000000, -(2 ** 40), 0.5] }) as Uint8Array)
    expect(frame.toString('hex')).toBe(
      'de0004a174a56576656e74a26368cf0000010000000000a3736571cf0000000200000000a464617461' + '93cf0000019ad4654d00d3ffffff0000000000cb3fe0000000000000',
    )
  })
})
