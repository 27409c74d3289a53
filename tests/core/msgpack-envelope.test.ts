/**
 * docs/protocol.md §9: the value-free reader that finds `t` and `id` in a well-formed
 * MessagePack frame msgpackr could not decode. It sees only hostile frames, so: any bytes end
 * in an envelope or `undefined`, never a throw; a well-formed frame is read exactly as msgpackr
 * reads it; a frame cut short or followed by extra bytes is not well-formed.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { Packr } from 'msgpackr'
import { CodecError } from '@patchbay/core'
import { msgpackServerCodec as msgpackCodec } from '@patchbay/core/msgpack'
import { readMsgpackEnvelope } from '../../packages/core/src/msgpack-envelope.js'
import { AnyKeyMap, Raw, i64, mp, u64 } from '../interop/support.js'

// Standard MessagePack only: with moreTypes, msgpackr writes a Set or an Error as an extension
// marker followed by a separate value, which no other reader would take for one value.
const packr = new Packr({ useRecords: false, moreTypes: false, useBigIntExtension: true })
const json = fc.jsonValue({ maxDepth: 4 })
const id = fc.oneof(fc.nat(), fc.constantFrom(2 ** 32, 2 ** 40, Number.MAX_SAFE_INTEGER))

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

  it('reads t and id of any well-formed map, values of every type beside them, and only of maps', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 8 }), id, fc.dictionary(fc.string({ maxLength: 4 }), json, { maxKeys: 4 }), fc.anything({ maxDepth: 3, withDate: true, withMap: true, withBigInt: true, withTypedArray: true, withSparseArray: true }), (t, n, rest, other) => {
        const frame = packr.pack({ ...rest, t, id: n, extra: other })
        expect(readMsgpackEnvelope(frame)).toEqual({ t, id: n })
        expect(readMsgpackEnvelope(packr.pack([t, n]))).toBeUndefined()
        // Cut short or padded: not well-formed.
        expect(readMsgpackEnvelope(frame.subarray(0, frame.length - 1))).toBeUndefined()
        expect(readMsgpackEnvelope(Uint8Array.from([...frame, 0]))).toBeUndefined()
      }),
      { numRuns: 300 },
    )
  })

  it('reads ids in every integer format, and skips keys that are not strings', () => {
    for (const [written, read] of [
      [u64(7), 7],
      [i64(2 ** 40), 2 ** 40],
      [u64(2n ** 60n), 2n ** 60n],
      [2.5, 2.5],
    ] as const) {
      const frame = mp(new AnyKeyMap([[new Uint8Array([1]), [1, { a: 2 }]], ['id', written], ['t', 'call'], [[1, 2], 'x']]))
      expect(readMsgpackEnvelope(frame)).toEqual({ t: 'call', id: read })
    }
  })

  it('walks any depth without recursion', () => {
    const deep = mp({ t: 'call', id: 1, input: new Raw([...new Array<number>(500_000).fill(0x91), 0xc0]) })
    expect(readMsgpackEnvelope(deep)).toEqual({ t: 'call', id: 1 })
    expect(() => msgpackCodec.decode(deep)).toThrowError(CodecError)
  })
})
