import { describe, expect, it } from 'vitest'
import { Packr } from 'msgpackr'
import { CodecError, findNonPlainData, jsonCodec, Subprotocol, subprotocolOf } from '@patchbay/core'
import { msgpackServerCodec as msgpackCodec } from '@patchbay/core/msgpack'

const message = { t: 'call', id: 7, path: 'math.add', input: { a: 1, b: [2, 'three', null, true], c: { d: 1.5 } } }

describe.each([jsonCodec, msgpackCodec])('§2 codec $encoding', (codec) => {
  it('round-trips a message', () => {
    expect(codec.decode(codec.encode(message))).toEqual(message)
  })

  it('is bound to its subprotocol and frame kind', () => {
    expect(codec.subprotocol).toBe(subprotocolOf[codec.encoding])
    expect(typeof codec.encode(message) === 'string').toBe(!codec.binary)
  })

  it('refuses the other frame kind with WRONG_FRAME_KIND', () => {
    const other = codec.binary ? '{"t":"ping"}' : new TextEncoder().encode('{"t":"ping"}')
    expect(() => codec.decode(other)).toThrowError(CodecError)
    try {
      codec.decode(other)
    } catch (error) {
      expect((error as CodecError).kind).toBe('WRONG_FRAME_KIND')
    }
  })

  it('refuses garbage with MALFORMED and never throws anything else', () => {
    const samples: Uint8Array[] = [new Uint8Array([0xc1]), new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]), new Uint8Array([0x92, 0x01])]
    // Deterministic pseudo-random byte strings: any byte sequence must end in a value or a CodecError.
    let seed = 42
    for (let i = 0; i < 500; i++) {
      const bytes = new Uint8Array(1 + (i % 40))
      for (let j = 0; j < bytes.length; j++) bytes[j] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff
      samples.push(bytes)
    }
    for (const bytes of samples) {
      const frame = codec.binary ? bytes : new TextDecoder().decode(bytes)
      try {
        codec.decode(frame)
      } catch (error) {
        expect(error).toBeInstanceOf(CodecError)
      }
    }
  })
})

describe('§9 untrusted msgpack values', () => {
  it.each([
    ['Date', new Date(0)],
    ['Set', new Set([1])],
    ['RegExp', /a+/],
    ['BigInt', 2n ** 70n],
    ['Error', new Error('x')],
    ['Float64Array', new Float64Array([1])],
  ])('a %s decoded by msgpackr is refused by findNonPlainData', (_name, value) => {
    // A hostile peer's encoder: records and every msgpackr extension type enabled.
    const hostile = new Packr({ moreTypes: true, useRecords: true })
    const decoded = msgpackCodec.decode(hostile.pack({ input: value }))
    expect(findNonPlainData(decoded, 64)).toMatch(/unsupported/)
  })

  it('a __proto__ key never becomes a prototype', () => {
    const decodedJson = jsonCodec.decode('{"__proto__":{"polluted":1}}')
    expect(findNonPlainData(decodedJson, 64)).toMatch(/__proto__/)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.getPrototypeOf(decodedJson)).toBe(Object.prototype)
  })

  it('bounds depth without overflowing the stack', () => {
    let deep: unknown = 1
    for (let i = 0; i < 100_000; i++) deep = [deep]
    expect(findNonPlainData(deep, 64)).toMatch(/deeper than 64/)
    let shallow: unknown = 1
    for (let i = 0; i < 63; i++) shallow = { a: shallow }
    expect(findNonPlainData(shallow, 64)).toBeUndefined()
  })

  it('admits binary payloads (msgpack bin)', () => {
    const decoded = msgpackCodec.decode(msgpackCodec.encode({ bytes: new Uint8Array([1, 2, 3]) }) as Uint8Array)
    expect(findNonPlainData(decoded, 64)).toBeUndefined()
  })

  it('names the subprotocols as versioned constants', () => {
    expect(Subprotocol).toEqual({ JSON: 'patchbay.v1.json', MSGPACK: 'patchbay.v1.msgpack' })
  })
})

// The msgpack codec copies small frames into one reused scratch buffer (codec.ts): nothing it
// returns may alias that buffer, and nothing of one frame may show through in the next.
describe('msgpack decoding through the scratch buffer', () => {
  const encode = (value: unknown): Uint8Array => msgpackCodec.encode(value) as Uint8Array

  it('returns bin values that later frames do not overwrite', () => {
    const first = msgpackCodec.decode(encode({ bytes: new Uint8Array([1, 2, 3]), s: 'first' })) as { bytes: Uint8Array; s: string }
    msgpackCodec.decode(encode({ bytes: new Uint8Array([9, 9, 9, 9, 9, 9]), s: 'second' }))
    expect([...first.bytes]).toEqual([1, 2, 3])
    expect(first.s).toBe('first')
    // Its own copy, not a view into a shared buffer.
    expect(first.bytes.byteLength).toBe(3)
    expect(first.bytes.buffer.byteLength).toBe(3)
  })

  it('does not change the frame it was given', () => {
    const frame = encode({ t: 'call', id: 1, path: 'a.b', input: { x: 'é'.repeat(20) } })
    const copy = Uint8Array.from(frame)
    msgpackCodec.decode(frame)
    expect([...frame]).toEqual([...copy])
  })

  it('refuses a truncated frame that follows the same frame whole', () => {
    const long = encode({ t: 'result', id: 1, output: 'x'.repeat(200) })
    expect(msgpackCodec.decode(long)).toEqual({ t: 'result', id: 1, output: 'x'.repeat(200) })
    // The same bytes cut short: what followed in the scratch buffer must not complete them.
    for (const cut of [1, 10, 100, 150]) {
      expect(() => msgpackCodec.decode(long.subarray(0, long.length - cut))).toThrowError(CodecError)
    }
  })

  it('decodes frames larger than the scratch buffer, and small ones after them', () => {
    const big = { t: 'result', id: 2, output: { text: 'y'.repeat(10_000), bytes: new Uint8Array(5_000).fill(7) } }
    const decoded = msgpackCodec.decode(encode(big)) as typeof big
    expect(decoded.output.text).toBe(big.output.text)
    expect([...decoded.output.bytes].every((byte) => byte === 7)).toBe(true)
    expect(msgpackCodec.decode(encode(message))).toEqual(message)
  })

  it('still refuses trailing bytes after a complete value', () => {
    const frame = encode({ t: 'ping' })
    const padded = new Uint8Array(frame.length + 2)
    padded.set(frame)
    expect(() => msgpackCodec.decode(padded)).toThrowError(CodecError)
  })
})
