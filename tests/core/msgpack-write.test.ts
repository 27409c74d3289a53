/**
 * docs/protocol.md §9: how Patchbay writes MessagePack. `undefined` goes out as JSON writes it
 * (left out of maps, nil in arrays), never as msgpackr's extension, and nothing else changes:
 * strings, bytes and numbers that happen to hold the bytes the check looks for come through
 * intact, and integers of every size read back as the same numbers.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { Unpackr } from 'msgpackr'
import { msgpackCodec as clientCodec, msgpackServerCodec } from '@patchbay/core/msgpack'

/** A reader with msgpackr's defaults, which knows nothing of Patchbay's codec. */
const plain = new Unpackr({ useRecords: false, mapsAsObjects: true })

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
  // Values whose own bytes are d4 00 00 (a bin 8 and a str 8 of 0xd4 bytes, a uint 16), read
  // past by the token walk, not taken for an undefined.
  fc.constantFrom(new Uint8Array(0xd4), '\u0000\u0000' + 'x'.repeat(0xd4 - 2), 0xd400, [0xd400, 0]),
)
const value = fc.letrec((tie) => ({
  any: fc.oneof({ depthSize: 'small' }, leaf, tie('list'), tie('map')),
  list: fc.array(tie('any'), { maxLength: 5 }),
  map: fc.dictionary(fc.string({ maxLength: 6 }), tie('any'), { maxKeys: 5 }),
})).any

/** What any reader should see: undefined as JSON writes it, -0 as 0. */
function strictly(value: unknown, inArray: boolean): unknown {
  if (value === undefined) return inArray ? null : undefined
  if (typeof value === 'number') return Object.is(value, -0) ? 0 : value
  if (value instanceof Uint8Array) return value
  if (Array.isArray(value)) return value.map((item) => strictly(item, true))
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) if (item !== undefined) out[key] = strictly(item, false)
    return out
  }
  return value
}

/** Bytes as arrays: a Buffer and a Uint8Array alike. */
function canon(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: [...value] }
  if (Array.isArray(value)) return value.map(canon)
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, canon(item)]))
  return value
}

// The server's encoder walks the frame; the client's searches its bytes (msgpack-write.ts).
describe.each([
  ['server', msgpackServerCodec],
  ['client', clientCodec],
])('§9 msgpack writing, %s', (_side, msgpackCodec) => {
  it('writes undefined as JSON does; nothing else changes', () => {
    fc.assert(
      fc.property(value, (v) => {
        const message = { t: 'result', id: 1, output: v }
        const frame = msgpackCodec.encode(message) as Uint8Array
        const expected = strictly(message, false)
        expect(canon(plain.unpack(frame))).toEqual(canon(expected))
        expect(canon(msgpackCodec.decode(frame))).toEqual(canon(expected))
      }),
      { numRuns: 1000 },
    )
  })

  it("never sends msgpackr's undefined extension", () => {
    const frame = Buffer.from(msgpackCodec.encode({ t: 'result', id: 1, output: { a: undefined, b: [undefined, 1] } }) as Uint8Array)
    expect(frame.toString('hex')).toBe('83a174a6726573756c74a2696401a66f757470757481a1629' + '2c001')
  })
})
