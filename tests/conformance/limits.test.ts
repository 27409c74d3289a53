/**
 * §9 limits and untrusted input, and §8 close codes: hostile payloads a decoder can build
 * (prototype keys, deep nesting, msgpack extension values, oversized frames) and server
 * shutdown. After every case the bystander connection is still served (useHarness).
 */
import { describe, expect, it } from 'vitest'
import { Packr } from 'msgpackr'
import { DEFAULT_LIMITS, type Encoding } from '@patchbay/core'
import { toWire } from '../support/wire.js'
import { ENCODINGS, PROTOCOL, encode, nested, prototypePolluted, refusedUpgrade, useHarness } from './support.js'

const DEPTH_BOMB = 100_000

/** MessagePack bytes of a fixstr (every string here is under 32 bytes). */
function fixstr(value: string): number[] {
  const bytes = [...Buffer.from(value, 'utf8')]
  if (bytes.length > 31) throw new RangeError('fixstr too long')
  return [0xa0 | bytes.length, ...bytes]
}

/** A hand-made msgpack call `[1, id, 'math.add', null, {a:<aBytes>, b:2}]` (§3). */
function callWithRawA(id: number, aBytes: number[]): Uint8Array {
  if (id > 127) throw new RangeError('positive fixint ids only')
  return Uint8Array.from([
    0x95,
    0x01,
    id,
    ...fixstr('math.add'),
    0xc0,
    0x82,
    ...fixstr('a'),
    ...aBytes,
    ...fixstr('b'),
    0x02,
  ])
}

describe.each<Encoding>(ENCODINGS)('§9 limits and untrusted input (%s)', (encoding) => {
  const h = useHarness(encoding)
  const binary = encoding === 'msgpack'

  it.each([
    ['at the top of the input', '[1,1,"math.add",null,{"a":1,"b":2,"__proto__":{"polluted":1}}]'],
    ['nested in the input', '[1,1,"math.add",null,{"a":1,"b":2,"x":[{"__proto__":{"polluted":2}}]}]'],
  ])('a __proto__ key %s pollutes nothing', async (_name, text) => {
    const client = await h.open()
    // The same message in both encodings: JSON text as is; msgpack from the parsed object,
    // whose own "__proto__" key msgpackr writes as a map key like any other.
    client.sendRaw(encoding === 'json' ? text : encode('msgpack', JSON.parse(text) as unknown), binary)
    const answer = await client.next()
    // Refused before any schema sees it, in both encodings (§9): JSON.parse makes an own
    // __proto__ property; msgpackr renames the key to __proto_ while decoding, and that key
    // is refused too.
    const key = encoding === 'json' ? '__proto__' : '__proto_'
    expect(answer).toEqual({ t: 'error', id: 1, error: { code: 'BAD_REQUEST', message: `input refused: forbidden key "${key}"` } })
    expect(prototypePolluted()).toBe(false)
  })

  it('BAD_REQUEST for input nested 100 deep; the socket lives', async () => {
    const client = await h.open()
    const answer = await client.call(1, 'math.add', { a: 1, b: 2, deep: nested(100) })
    expect(answer).toMatchObject({ t: 'error', id: 1, error: { code: 'BAD_REQUEST', message: expect.stringMatching(/input refused: nesting deeper than/) } })
    expect(await client.call(2, 'math.add', { a: 1, b: 2 })).toEqual({ t: 'result', id: 2, output: 3 })
  })

  it('accepts input nested just within maxDepth', async () => {
    const client = await h.open()
    // maxDepth counts the envelope: envelope (1) + input object (1) + the array chain.
    const answer = await client.call(1, 'math.add', { a: 1, b: 2, deep: nested(DEFAULT_LIMITS.maxDepth - 2) })
    expect(answer).toEqual({ t: 'result', id: 1, output: 3 })
    const over = await client.call(2, 'math.add', { a: 1, b: 2, deep: nested(DEFAULT_LIMITS.maxDepth - 1) })
    expect(over).toMatchObject({ t: 'error', id: 2, error: { code: 'BAD_REQUEST' } })
  })

  it('closes 4400 on a whole frame nested 100,000 deep; the server keeps serving', async () => {
    const client = await h.open()
    if (encoding === 'json') {
      client.sendRaw('['.repeat(DEPTH_BOMB) + ']'.repeat(DEPTH_BOMB), false)
    } else {
      const bomb = new Uint8Array(DEPTH_BOMB + 1).fill(0x91)
      bomb[DEPTH_BOMB] = 0x90
      client.sendRaw(bomb, true)
    }
    await client.expectClose(4400)
    const fresh = await h.open()
    expect(await fresh.call(1, 'math.add', { a: 2, b: 2 })).toEqual({ t: 'result', id: 1, output: 4 })
  })

  it('input nested 100,000 deep inside a valid call never reaches a handler; the server keeps serving', async () => {
    const client = await h.open()
    if (encoding === 'json') {
      const deep = '['.repeat(DEPTH_BOMB) + ']'.repeat(DEPTH_BOMB)
      client.sendRaw(`[1,1,"math.add",null,{"a":1,"b":2,"deep":${deep}}]`, false)
      // JSON.parse copes; the bounded plain-data walk refuses it for that id.
      expect(await client.next()).toMatchObject({ t: 'error', id: 1, error: { code: 'BAD_REQUEST' } })
      expect(await client.call(2, 'math.add', { a: 1, b: 2 })).toEqual({ t: 'result', id: 2, output: 3 })
    } else {
      const bomb = new Uint8Array(DEPTH_BOMB + 1).fill(0x91)
      bomb[DEPTH_BOMB] = 0x90
      client.sendRaw(callWithRawA(1, [...bomb]), true)
      // The decoder gives up, but the bytes are well-formed: answered for the id, as JSON is (§9).
      expect(await client.next()).toMatchObject({ t: 'error', id: 1, error: { code: 'BAD_REQUEST' } })
      expect(await client.call(2, 'math.add', { a: 1, b: 2 })).toEqual({ t: 'result', id: 2, output: 3 })
    }
  })

  it('closes 1009 on a frame over maxPayload; a frame under it is served', async () => {
    const small = await h.start({ limits: { maxPayload: 1024 } })
    const client = await h.open(small)
    expect(await client.call(1, 'math.add', { a: 1, b: 2, pad: 'x'.repeat(900) })).toEqual({ t: 'result', id: 1, output: 3 })
    const big = encode(encoding, { t: 'call', id: 2, path: 'math.add', input: { a: 1, b: 2, pad: 'x'.repeat(2000) } })
    expect(big.length).toBeGreaterThan(1024)
    client.sendRaw(big, binary)
    await client.expectClose(1009)
  })
})

describe('§9 msgpack extension values in input (msgpack)', () => {
  const h = useHarness('msgpack')
  const moreTypes = new Packr({ useRecords: false, moreTypes: true })

  it('BAD_REQUEST for a Date made by the timestamp extension (ext -1: 0xd6 0xff + 4 bytes)', async () => {
    const client = await h.open()
    client.sendRaw(callWithRawA(1, [0xd6, 0xff, 0x65, 0x53, 0xf1, 0x00]), true)
    const answer = await client.next()
    expect(answer).toMatchObject({ t: 'error', id: 1, error: { code: 'BAD_REQUEST', message: expect.stringMatching(/refused.*Date/) } })
  })

  it.each<[string, unknown, RegExp]>([
    ['Set', new Set([1, 2]), /Set/],
    ['RegExp', /a+b/g, /RegExp/],
    ['Error', new Error('boom'), /Error/],
    ['Float64Array', new Float64Array([1.5]), /Float64Array/],
    ['Date', new Date(0), /Date/],
  ])('BAD_REQUEST for a %s packed with moreTypes', async (_name, value, kind) => {
    const client = await h.open()
    client.sendRaw(moreTypes.pack(toWire({ t: 'call', id: 2, path: 'math.add', input: { a: 1, b: 2, x: [{ value }] } })), true)
    const answer = await client.next()
    expect(answer).toMatchObject({ t: 'error', id: 2, error: { code: 'BAD_REQUEST' } })
    expect((answer.error as { message: string }).message).toMatch(kind)
  })

  it('accepts bin (bytes) as plain data', async () => {
    const client = await h.open()
    expect(await client.call(3, 'math.add', { a: 1, b: 2, blob: Uint8Array.of(1, 2, 3) })).toEqual({ t: 'result', id: 3, output: 3 })
  })
})

describe.each<Encoding>(ENCODINGS)('§8 close codes (%s)', (encoding) => {
  const h = useHarness(encoding)

  it('server.close() closes an open raw client with 1001', async () => {
    const client = await h.open()
    expect(await client.call(1, 'math.add', { a: 1, b: 2 })).toEqual({ t: 'result', id: 1, output: 3 })
    await h.main.close()
    await client.expectClose(1001, /shutting down/)
  })

  it('server.close() answers a call in flight before closing with 1001, and refuses new upgrades with 503', async () => {
    const client = await h.open()
    client.send({ t: 'call', id: 1, path: 'held.echo', input: { n: 1 } })
    await h.main.heldArrived(1)
    const closing = h.main.close()
    expect((await refusedUpgrade(h.main.url, [PROTOCOL[encoding]])).status).toBe(503)
    h.main.release(1)
    expect(await client.next()).toEqual({ t: 'result', id: 1, output: { n: 1 } })
    await client.expectClose(1001)
    await closing
  })
})
