/**
 * docs/protocol.md §9: `undefined` sent by the server is left out of a map and is nil in an
 * array, never msgpackr's extension (`d4 00 00`), which other MessagePack implementations
 * cannot read. Read here by Python's msgpack, and counted: a frame whose payload only looks
 * like it holds the extension (bytes, a string, a number) is encoded once, not twice.
 */
import { spawnSync } from 'node:child_process'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import fc from 'fast-check'
import { Unpackr } from 'msgpackr'
import { msgpackServerCodec as msgpackCodec } from '@patchbay/core/msgpack'
import { findPython } from '../interop/python-support.js'

/** Every `pack` of every Packr made after this module loads (Patchbay's two packrs). */
const packs = vi.hoisted(() => ({ count: 0 }))
vi.mock('msgpackr', async (importOriginal) => {
  const real = await importOriginal<typeof import('msgpackr')>()
  class CountingPackr extends real.Packr {
    constructor(options?: ConstructorParameters<typeof real.Packr>[0]) {
      super(options)
      // msgpackr assigns pack per instance in its constructor, so it is wrapped here.
      const pack = this.pack.bind(this)
      this.pack = (value: unknown, ...rest: unknown[]) => {
        packs.count++
        return (pack as (value: unknown, ...rest: unknown[]) => ReturnType<typeof pack>)(value, ...rest)
      }
    }
  }
  return { ...real, Packr: CountingPackr }
})

/** The three bytes of msgpackr's `undefined`, and a bin 8 of 0xd4 zero bytes: `c4 d4 00 00 ...`. */
const LOOKALIKE = Uint8Array.from([1, 0xd4, 0, 0, 2])
const ZEROS_212 = new Uint8Array(0xd4)
/** A str 8 of 0xd4 characters starting with two NULs: `d9 d4 00 00 ...`. */
const STRING_212 = '\u0000\u0000' + 'x'.repeat(0xd4 - 2)

/** 1 MiB, zero-filled with `d4 00 00` in its middle and a random 1 MiB. */
function bigPayloads(): Uint8Array[] {
  const zeros = new Uint8Array(1 << 20)
  zeros.set([0xd4, 0, 0], 1 << 19)
  const random = new Uint8Array(1 << 20)
  for (let at = 0; at < random.length; at += 65536) crypto.getRandomValues(random.subarray(at, at + 65536))
  random.set([0xd4, 0, 0], 12345)
  return [zeros, random]
}

/**
 * Decodes each frame with Python's msgpack and prints what it read as JSON: bytes as
 * `{"bytes": hex}`, an extension (what msgpackr's `undefined` would be) as `{"ext": code}`.
 */
const PYTHON = String.raw`
import json, sys, msgpack
def plain(v):
    if isinstance(v, msgpack.ExtType): return {"ext": v.code}
    if isinstance(v, bytes): return {"bytes": v.hex()}
    if isinstance(v, list): return [plain(x) for x in v]
    if isinstance(v, dict): return {k: plain(x) for k, x in v.items()}
    return v
for line in sys.stdin:
    print(json.dumps(plain(msgpack.unpackb(bytes.fromhex(line.strip()), raw=False, strict_map_key=False))))
`

function readByPython(frames: Uint8Array[]): unknown[] {
  const input = frames.map((frame) => Buffer.from(frame).toString('hex')).join('\n') + '\n'
  const run = spawnSync(findPython(), ['-B', '-c', PYTHON], { input, encoding: 'utf8', timeout: 20_000, maxBuffer: 64 << 20 })
  if (run.status !== 0) throw new Error(`python failed: ${run.stderr}`)
  return run.stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown)
}

/** A float 64 whose last three bytes are d4 00 00 (3.1416...). */
const FLOAT_D40000 = new DataView(Uint8Array.from([0x40, 0x09, 0x21, 0xfb, 0x54, 0xd4, 0, 0]).buffer).getFloat64(0)

/** Makes a frame longer than 1 KiB, which is walked value by value rather than searched. */
const PAD = 'p'.repeat(1100)
/** 3,000 one-byte values: more than a large frame's walk takes before it searches instead. */
const DENSE = Array.from({ length: 3000 }, (_, i) => i % 100)
/** More 0xd4 bytes than the search looks at before it hands the frame to the walk, then 00 00. */
const D4S = new Uint8Array(600).fill(0xd4)
D4S.set([0, 0], 598)

/** msgpackr's reader with no Patchbay codec around it. */
const strict = new Unpackr({ useRecords: false, mapsAsObjects: true })

const hex = (bytes: Uint8Array): { bytes: string } => ({ bytes: Buffer.from(bytes).toString('hex') })

/** Each message, and what Python must read: `undefined` as JSON writes it. */
const cases: { name: string; message: unknown[]; expected: unknown }[] = [
  { name: 'a top-level array element', message: [2, 1, undefined, 3], expected: [2, 1, null, 3] },
  { name: 'a trailing element', message: [2, 1, undefined], expected: [2, 1, null] },
  { name: 'a nested map value', message: [2, 1, { a: 1, b: undefined, c: { d: undefined } }], expected: [2, 1, { a: 1, c: {} }] },
  { name: 'a nested array element', message: [14, 1, { list: [1, undefined, [undefined]] }], expected: [14, 1, { list: [1, null, [null]] }] },
  {
    name: 'beside bytes that hold d4 00 00',
    message: [10, 1, 2, { bytes: LOOKALIKE, zeros: ZEROS_212, gone: undefined, list: [LOOKALIKE, undefined] }],
    expected: [10, 1, 2, { bytes: hex(LOOKALIKE), zeros: hex(ZEROS_212), list: [hex(LOOKALIKE), null] }],
  },
  {
    name: 'beside a string whose bytes hold d4 00 00',
    message: [2, 1, { text: STRING_212, gone: undefined, list: [undefined, STRING_212] }],
    expected: [2, 1, { text: STRING_212, list: [null, STRING_212] }],
  },
]

describe('§9 undefined as JSON writes it, read by Python', () => {
  it.each(cases)('$name', ({ message, expected }) => {
    const [read] = readByPython([msgpackCodec.encode(message) as Uint8Array])
    expect(read).toEqual(expected)
  })

  it('1 MiB of bytes holding d4 00 00 comes through intact, with and without an undefined beside it', () => {
    const payloads = bigPayloads()
    const frames = payloads.flatMap((bytes) => [msgpackCodec.encode([2, 1, bytes]), msgpackCodec.encode([2, 1, { bytes, gone: undefined }])] as Uint8Array[])
    const read = readByPython(frames)
    expect(read).toEqual(payloads.flatMap((bytes) => [[2, 1, hex(bytes)], [2, 1, { bytes: hex(bytes) }]]))
  })
})

describe('§9 only a frame that holds an undefined is written twice', () => {
  beforeEach(() => {
    packs.count = 0
  })

  it.each([
    ['in a small frame', [2, 1, { a: undefined, b: [undefined] }]],
    ['past 1 KiB', [2, 1, PAD, { floats: new Float64Array([1]), a: undefined, b: [undefined] }]],
    ['after 3,000 small values and 600 bytes of 0xd4', [2, 1, DENSE, { bytes: D4S, a: undefined, b: [undefined] }]],
  ])('counts: a frame with an undefined %s is written again by the JSON-like packr', (_name, message) => {
    const decoded = strict.unpack(msgpackCodec.encode(message) as Uint8Array) as unknown[]
    expect(packs.count).toBe(2)
    expect(decoded.at(-1)).toEqual(expect.objectContaining({ b: [null] }))
    expect(decoded.at(-1)).not.toHaveProperty('a')
  })

  it.each([
    ['a 1 MiB zero-filled Uint8Array holding d4 00 00', () => [2, 1, bigPayloads()[0]]],
    ['a 1 MiB random Uint8Array holding d4 00 00', () => [2, 1, bigPayloads()[1]]],
    ['a bin 8 of 0xd4 zero bytes (c4 d4 00 00)', () => [14, 1, ZEROS_212]],
    ['a str 8 of 0xd4 characters starting \\0\\0 (d9 d4 00 00)', () => [10, 1, 2, { text: STRING_212 }]],
    ['a uint 16 of 0xd400 before a 0 (cd d4 00 00)', () => [2, 1, [0xd400, 0]]],
    ['a float 64 ending in d4 00 00', () => [2, 1, FLOAT_D40000]],
    ['a bin 16 of 0xd400 zero bytes (c5 d4 00 00)', () => [14, 1, new Uint8Array(0xd400)]],
    ['a str 16 of 0xd400 characters starting \\0\\0 (da d4 00 00)', () => [14, 1, '\u0000\u0000' + 'x'.repeat(0xd400 - 2)]],
    ['600 bytes of 0xd4 ending 00 00 (c5 02 58 d4 d4 ... d4 00 00)', () => [2, 1, { bytes: D4S }]],
    ['600 bytes of 0xd4 after 3,000 small values', () => [2, 1, DENSE, { bytes: D4S, list: [0xd400, 0] }]],
    ['extensions and look-alikes past 1 KiB', () => [2, 1, PAD, { at: new Date(0), floats: new Float64Array([FLOAT_D40000]), list: [0xd400, 0, ZEROS_212, STRING_212] }]],
  ])('%s: one encode', (_name, make) => {
    const message = make()
    const frame = msgpackCodec.encode(message) as Uint8Array
    expect(packs.count).toBe(1)
    expect(Buffer.from(frame).includes(Buffer.from([0xd4, 0, 0]))).toBe(true)
  })

  it('any value: two encodes exactly when it holds an undefined', () => {
    const leaf = fc.oneof(
      fc.integer(),
      fc.double({ noNaN: true }),
      fc.string(),
      fc.uint8Array({ maxLength: 300 }),
      fc.constantFrom(null, true, undefined, 0xd400, -0xd4, FLOAT_D40000, LOOKALIKE, ZEROS_212, STRING_212, '\u00d4'),
    )
    const value = fc.letrec((tie) => ({
      any: fc.oneof({ depthSize: 'small' }, leaf, tie('list'), tie('map')),
      list: fc.array(tie('any'), { maxLength: 5 }),
      map: fc.dictionary(fc.string({ maxLength: 4 }), tie('any'), { maxKeys: 5 }),
    })).any
    fc.assert(
      fc.property(value, (v) => {
        // A frame of up to 1 KiB is searched for the bytes first; a larger one is walked
        // first, and DENSE runs the walk out of steps, so v is searched for, then walked.
        for (const message of [[2, 1, v], [2, 1, PAD, v], [2, 1, DENSE, v]]) {
          packs.count = 0
          msgpackCodec.encode(message)
          expect(packs.count).toBe(holds(v) ? 2 : 1)
        }
      }),
      { numRuns: 2000 },
    )
  })
})

/** Whether a value of plain data holds an undefined anywhere. */
function holds(value: unknown): boolean {
  if (value === undefined) return true
  if (Array.isArray(value)) return value.some(holds)
  if (typeof value === 'object' && value !== null && !(value instanceof Uint8Array)) return Object.values(value).some(holds)
  return false
}
