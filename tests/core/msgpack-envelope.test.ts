/**
 * docs/protocol.md §3, §9: the value-free reader that finds elements 0 and 1 (tag and id) of
 * the array of a well-formed MessagePack frame msgpackr could not decode. It sees only hostile
 * frames, so: any bytes end in an envelope or `undefined`, never a throw; a well-formed frame
 * is read exactly as msgpackr reads it; a frame cut short or followed by extra bytes is not
 * well-formed.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { Packr } from 'msgpackr'
import { CodecError } from '@patchbay/core'
import { msgpackServerCodec as msgpackCodec } from '@patchbay/core/msgpack'
import { readMsgpackEnvelope } from '../../packages/core/src/msgpack-envelope.js'
import { AnyKeyMap, Raw, i32, i64, mp, u32, u64 } from '../interop/support.js'

// Standard MessagePack only: with moreTypes, msgpackr writes a Set or an Error as an extension
// marker followed by a separate value, which no other reader would take for one value.
const packr = new Packr({ useRecords: false, moreTypes: false, useBigIntExtension: true })
const json = fc.jsonValue({ maxDepth: 4 })
const anything = fc.anything({ maxDepth: 3, withDate: true, withMap: true, withBigInt: true, withTypedArray: true, withSparseArray: true })
/** Integers as any encoder writes them: fixints of both signs, 8 to 64 bits. */
const integer = fc.oneof(fc.integer({ min: -40, max: 200 }), fc.integer(), fc.constantFrom(2 ** 32, 2 ** 40, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER))
/** A map with a bin key: well-formed, and msgpackr cannot build it. */
const UNBUILDABLE = new AnyKeyMap([[new Uint8Array([1]), 1]])

describe('§9 readMsgpackEnvelope', () => {
  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const envelope = readMsgpackEnvelope(bytes)
        expect(envelope === undefined || typeof envelope === 'object').toBe(true)
      }),
      { numRuns: 2000 },
    )
  })

  it('reads the tag and id of any well-formed array as msgpackr does, whatever follows them', () => {
    fc.assert(
      fc.property(integer, integer, fc.array(anything, { maxLength: 4 }), (tag, n, rest) => {
        const frame = packr.pack([tag, n, ...rest])
        expect(readMsgpackEnvelope(frame)).toEqual({ array: true, tag, id: n })
        // Cut short or padded: not well-formed.
        expect(readMsgpackEnvelope(frame.subarray(0, frame.length - 1))).toBeUndefined()
        expect(readMsgpackEnvelope(Uint8Array.from([...frame, 0]))).toBeUndefined()
      }),
      { numRuns: 500 },
    )
  })

  it('leaves out elements 0 and 1 that are not integers, and anything that is not an array', () => {
    fc.assert(
      fc.property(json.filter((value) => typeof value !== 'number'), integer, (other, n) => {
        expect(readMsgpackEnvelope(packr.pack([other, n]))).toEqual({ array: true, tag: undefined, id: n })
        expect(readMsgpackEnvelope(packr.pack([n, other]))).toEqual({ array: true, tag: n, id: undefined })
        expect(readMsgpackEnvelope(mp([UNBUILDABLE, n]))).toEqual({ array: true, tag: undefined, id: n })
        expect(readMsgpackEnvelope(mp([n, UNBUILDABLE]))).toEqual({ array: true, tag: n, id: undefined })
        // A well-formed value that is not an array names no request.
        if (!Array.isArray(other)) expect(readMsgpackEnvelope(packr.pack(other))).toEqual({ array: false, tag: undefined, id: undefined })
        expect(readMsgpackEnvelope(mp(new AnyKeyMap([['t', n], [new Uint8Array([1]), n]])))).toEqual({ array: false, tag: undefined, id: undefined })
      }),
      { numRuns: 300 },
    )
    expect(readMsgpackEnvelope(packr.pack([]))).toEqual({ array: true, tag: undefined, id: undefined })
    expect(readMsgpackEnvelope(packr.pack([1]))).toEqual({ array: true, tag: 1, id: undefined })
  })

  it('reads tags and ids in every integer format and as floats', () => {
    const float32 = (value: number): Raw => {
      const bytes = new Uint8Array(5)
      bytes[0] = 0xca
      new DataView(bytes.buffer).setFloat32(1, value)
      return new Raw([...bytes])
    }
    for (const [written, read] of [
      [u64(7), 7],
      [u32(7), 7],
      [i32(-7), -7],
      [i64(2 ** 40), 2 ** 40],
      [u64(2n ** 60n), 2n ** 60n],
      [-1, -1],
      [-32, -32],
      [2.5, 2.5],
      [float32(7), 7],
      [float32(2.5), 2.5],
    ] as const) {
      const frame = mp([written, written, 'math.add', null, UNBUILDABLE, new AnyKeyMap([[[1, 2], 'x']])])
      // What the server's codec reads for the same element in a frame it can build.
      expect(msgpackCodec.decode(mp([written]))).toEqual([read])
      expect(readMsgpackEnvelope(frame)).toEqual({ array: true, tag: read, id: read })
    }
  })

  it('walks any depth without recursion', () => {
    const deep = mp([1, 1, 'math.add', null, new Raw([...new Array<number>(500_000).fill(0x91), 0xc0])])
    expect(readMsgpackEnvelope(deep)).toEqual({ array: true, tag: 1, id: 1 })
    expect(() => msgpackCodec.decode(deep)).toThrowError(CodecError)
  })
})
