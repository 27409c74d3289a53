/**
 * docs/protocol.md §3 Envelope and §7 ping, with hand-made frames: every message is one
 * array whose element 0 is its type's tag. What does not decode or is not a message closes
 * 4400 with §3's reason; a bad meta is BAD_REQUEST for its id; unknown meta keys and elements
 * past the ones a type defines are ignored; null is a value, absence is the array ending.
 * Frames here are written as arrays (or non-arrays) explicitly, never through toWire.
 */
import { describe, expect, it } from 'vitest'
import type { Encoding } from '@patchbay/core'
import { ENCODINGS, encodeValue, roundTrip, useHarness, type RawClient } from './support.js'

/** Bytes that are not MessagePack: 0xc1 is the one type byte the format never uses. */
const NEVER_USED = Uint8Array.of(0xc1)
/** A map header announcing two entries, then nothing. */
const TRUNCATED_MAP = Uint8Array.of(0x82, 0xa1, 0x74)

/** MessagePack bytes of a short string: fixstr, or str 8 when `str8`. */
function str(text: string, str8 = false): number[] {
  const bytes = [...Buffer.from(text, 'utf8')]
  if (bytes.length > 31) throw new RangeError('short strings only')
  return str8 ? [0xd9, bytes.length, ...bytes] : [0xa0 | bytes.length, ...bytes]
}
/** A fixmap with one entry whose key is bin 8 `00`: well-formed, but msgpackr cannot build it. */
const BIN_KEY_MAP = [0x81, 0xc4, 0x01, 0x00, 0x01]
/** `{a:1, b:2}` as a fixmap. */
const A1_B2 = [0x82, ...str('a'), 0x01, ...str('b'), 0x02]

const SERVER_TYPES: [string, number][] = [
  ['result', 2],
  ['error', 3],
  ['event', 10],
  ['lag', 11],
  ['item', 14],
]

const BAD_METAS: [string, unknown][] = [
  ['a string', 'key'],
  ['a number', 5],
  ['an array', [{ key: 'k1' }]],
  ['true', true],
  ['false', false],
]

describe.each<Encoding>(ENCODINGS)('§3 envelope (%s)', (encoding) => {
  const h = useHarness(encoding)
  const binary = encoding === 'msgpack'

  /** Sends `value` encoded exactly as given. */
  const sendValue = (client: RawClient, value: unknown): void => client.sendRaw(encodeValue(encoding, value), binary)

  const garbage: [string, string | Uint8Array][] =
    encoding === 'json'
      ? [
          ['invalid JSON', 'not json['],
          ['truncated JSON', '[5'],
          ['a truncated array', '[1,1,"math.add",null,{"a":1,"b":2}'],
          ['trailing text', '[5] [5]'],
          ['an empty frame', ''],
        ]
      : [
          ['a never-used type byte', NEVER_USED],
          ['a truncated map', TRUNCATED_MAP],
          // fixarray of 5, then tag, id and path only.
          ['a truncated array', Uint8Array.from([0x95, 0x01, 0x01, ...str('math.add')])],
          ['a truncated array 16', Uint8Array.from([0xdc, 0x00, 0x05, 0x01, 0x01])],
          ['trailing bytes', Uint8Array.of(0x91, 0x05, 0x01)],
          ['an empty frame', new Uint8Array(0)],
        ]

  it.each(garbage)('closes 4400 on %s', async (_name, frame) => {
    // docs/protocol.md §3: a frame that does not decode.
    const client = await h.open()
    client.sendRaw(frame, binary)
    await client.expectClose(4400)
  })

  it.each<[string, unknown]>([
    ['an object (the v1 map envelope)', { t: 'ping' }],
    ['an empty object', {}],
    ['a string', 'x'],
    ['a number', 5],
    ['null', null],
    ['true', true],
  ])('closes 4400 "message is not an array" on %s', async (_name, value) => {
    // docs/protocol.md §3
    const client = await h.open()
    sendValue(client, value)
    await client.expectClose(4400, /^message is not an array$/)
  })

  it.each<[string, unknown[]]>([
    ['an empty array', []],
    ['a string tag', ['call', 1, 'math.add', null, { a: 1, b: 2 }]],
    ['a numeric string tag', ['5']],
    ['a fractional tag', [1.5, 1, 'math.add']],
    ['a null tag', [null, 1, 'math.add']],
    ['a boolean tag', [true]],
    ['an array tag', [[1], 1, 'math.add']],
  ])('closes 4400 "message has no type" on %s', async (_name, frame) => {
    // docs/protocol.md §3: element 0 not an integer.
    const client = await h.open()
    sendValue(client, frame)
    await client.expectClose(4400, /^message has no type$/)
  })

  it.each<[string, unknown[]]>([
    ['0', [0, 1, 'math.add']],
    ['15 (one past the last tag)', [15]],
    ['-1', [-1, 1]],
    ['2^40', [2 ** 40, 1]],
  ])('closes 4400 "unknown message type" on the integer tag %s', async (_name, frame) => {
    // docs/protocol.md §3: an integer tag that is not a type.
    const client = await h.open()
    sendValue(client, frame)
    await client.expectClose(4400, /^unknown message type$/)
  })

  it.each(SERVER_TYPES)('closes 4400 naming %s (tag %i), a server type sent by a client', async (name, tag) => {
    // docs/protocol.md §3
    const client = await h.open()
    sendValue(client, [tag, 1, { code: 'BAD_REQUEST', message: 'x' }, 1])
    await client.expectClose(4400, new RegExp(`^${name} is a server-to-client message$`))
  })

  it('closes 1003 on a frame of the wrong kind', async () => {
    const client = await h.open()
    // The right bytes, the wrong frame kind: JSON text in a binary frame, msgpack in a text frame.
    if (encoding === 'json') client.sendRaw(Buffer.from('[5]'), true)
    else client.sendRaw('[5]', false)
    await client.expectClose(1003, encoding === 'json' ? /binary frame/ : /text frame/)
  })

  describe('meta (element 3 of a request)', () => {
    // docs/protocol.md §3: a meta that is neither null nor a map is BAD_REQUEST for the id.
    const requests: [string, (meta: unknown) => unknown[]][] = [
      ['call', (meta) => [1, 21, 'math.add', meta, { a: 1, b: 2 }]],
      ['call without input', (meta) => [1, 21, 'health', meta]],
      ['sub', (meta) => [7, 21, 'chat', meta]],
      ['pub', (meta) => [9, 21, 'chat', meta, { n: 1 }]],
      ['stream', (meta) => [12, 21, 'count', meta, 1, { to: 1 }]],
    ]
    const cases = requests.flatMap(([type, build]) => BAD_METAS.map(([name, meta]) => [type, name, build(meta)] as const))

    it.each(cases)('%s with a meta that is %s: BAD_REQUEST "meta must be a map or null", the connection lives', async (_type, _name, frame) => {
      const client = await h.open()
      sendValue(client, frame)
      expect(await client.next()).toEqual({ t: 'error', id: 21, error: { code: 'BAD_REQUEST', message: 'meta must be a map or null' } })
      expect(await client.call(22, 'math.add', { a: 1, b: 2 })).toEqual({ t: 'result', id: 22, output: 3 })
    })

    it('a null meta, and a meta map with only unknown keys, are no meta', async () => {
      const client = await h.open()
      sendValue(client, [1, 1, 'math.add', null, { a: 1, b: 2 }])
      expect(await client.next()).toEqual({ t: 'result', id: 1, output: 3 })
      sendValue(client, [1, 2, 'math.add', {}, { a: 2, b: 2 }])
      expect(await client.next()).toEqual({ t: 'result', id: 2, output: 4 })
      sendValue(client, [1, 3, 'math.add', { future: { deep: [1, 2] }, v: 2, KEY: 'x' }, { a: 3, b: 2 }])
      expect(await client.next()).toEqual({ t: 'result', id: 3, output: 5 })
    })
  })

  describe('unknown meta keys and elements past the known ones are ignored (§3)', () => {
    const EXTRA = ['extra', { future: true }, null, 7]
    const UNKNOWN_META = { future: 1, nested: { deep: [1, 2] } }

    it('call', async () => {
      const client = await h.open()
      sendValue(client, [1, 1, 'math.add', UNKNOWN_META, { a: 1, b: 2 }, ...EXTRA])
      expect(await client.next()).toEqual({ t: 'result', id: 1, output: 3 })
      // The known meta key beside unknown ones still counts: a bad key is still refused.
      sendValue(client, [1, 2, 'math.add', { ...UNKNOWN_META, key: 'not a key!' }, { a: 1, b: 2 }, ...EXTRA])
      expect(await client.next()).toMatchObject({ t: 'error', id: 2, error: { code: 'BAD_REQUEST', message: expect.stringMatching(/^key /) } })
    })

    it('sub, pub and unsub', async () => {
      const client = await h.open()
      sendValue(client, [7, 1, 'chat', UNKNOWN_META, null, ...EXTRA])
      expect(await client.next()).toMatchObject({ t: 'result', id: 1, output: { seq: 0 } })
      sendValue(client, [9, 2, 'chat', UNKNOWN_META, { n: 5 }, null, ...EXTRA])
      // §13: the pub's result, then its event to this subscriber, both delivered.
      const frames = await roundTrip(client)
      expect(frames).toContainEqual({ t: 'result', id: 2, output: { delivered: 1 } })
      expect(frames).toContainEqual(expect.objectContaining({ t: 'event', seq: 1, data: { n: 5 } }))
      expect(frames).toHaveLength(2)
      sendValue(client, [8, 1, ...EXTRA])
      sendValue(client, [9, 3, 'chat', null, { n: 6 }])
      // Unsubscribed: the next pub is answered and brings no event.
      expect(await roundTrip(client)).toEqual([{ t: 'result', id: 3, output: { delivered: 0 } }])
    })

    it('stream and credit', async () => {
      const client = await h.open()
      sendValue(client, [12, 1, 'count', UNKNOWN_META, 1, { to: 3 }, ...EXTRA])
      expect(await client.next()).toEqual({ t: 'item', id: 1, data: 1 })
      sendValue(client, [13, 1, 5, ...EXTRA])
      expect(await client.take(3)).toEqual([
        { t: 'item', id: 1, data: 2 },
        { t: 'item', id: 1, data: 3 },
        { t: 'result', id: 1 },
      ])
    })

    it('cancel', async () => {
      const client = await h.open()
      sendValue(client, [1, 3, 'held.echo', UNKNOWN_META, { n: 3 }, ...EXTRA])
      await h.main.heldArrived(1)
      sendValue(client, [4, 3, ...EXTRA])
      await h.main.abortedSignal(3)
      expect(h.main.aborted.get(3)).toMatchObject({ code: 'CANCELLED' })
    })

    it('ping and pong', async () => {
      const client = await h.open()
      sendValue(client, [6, ...EXTRA])
      sendValue(client, [5, ...EXTRA])
      expect(await client.next()).toEqual({ t: 'pong' })
      expect(client.received).toEqual([{ t: 'pong' }])
    })
  })

  describe('absent and null payloads (§3: null is a value, absence is the array ending)', () => {
    it('[1,id,path] calls a procedure without input; so does a null meta with nothing after it', async () => {
      const client = await h.open()
      sendValue(client, [1, 1, 'health'])
      expect(await client.next()).toEqual({ t: 'result', id: 1, output: 'ok' })
      sendValue(client, [1, 2, 'health', null])
      expect(await client.next()).toEqual({ t: 'result', id: 2, output: 'ok' })
    })

    it('an absent input reaches the schema as undefined, a null input as null', async () => {
      const client = await h.open()
      sendValue(client, [1, 1, 'payload.absentOnly'])
      expect(await client.next()).toEqual({ t: 'result', id: 1, output: 'absent' })
      sendValue(client, [1, 2, 'payload.absentOnly', null])
      expect(await client.next()).toEqual({ t: 'result', id: 2, output: 'absent' })
      sendValue(client, [1, 3, 'payload.nullOnly', null, null])
      expect(await client.next()).toEqual({ t: 'result', id: 3, output: 'null' })
      sendValue(client, [1, 4, 'payload.nullOnly', null, null, 'extra'])
      expect(await client.next()).toEqual({ t: 'result', id: 4, output: 'null' })
      // And the other way round each schema refuses it.
      sendValue(client, [1, 5, 'payload.absentOnly', null, null])
      expect(await client.next()).toMatchObject({ t: 'error', id: 5, error: { code: 'BAD_REQUEST', message: 'Input failed validation' } })
      sendValue(client, [1, 6, 'payload.nullOnly'])
      expect(await client.next()).toMatchObject({ t: 'error', id: 6, error: { code: 'BAD_REQUEST', message: 'Input failed validation' } })
      sendValue(client, [1, 7, 'payload.nullOnly', null])
      expect(await client.next()).toMatchObject({ t: 'error', id: 7, error: { code: 'BAD_REQUEST', message: 'Input failed validation' } })
    })

    it('a result without output ends at its id', async () => {
      const client = await h.open()
      // §15: a stream that yields nothing ends with a result without output.
      sendValue(client, [12, 2, 'count', null, 1, { to: 0 }])
      expect(await client.next()).toEqual({ t: 'result', id: 2 })
      // The frame as it came off the wire, not through fromWire.
      const raw = client.receivedBytes[0] as Buffer
      if (encoding === 'json') expect(raw.toString('utf8')).toBe('[2,2]')
      else expect([...raw]).toEqual([0x92, 0x02, 0x02])
    })
  })
})

// docs/protocol.md §3 "Any valid encoding is accepted", §4.1: values, not byte layouts.
describe('§3 any valid encoding of a message is accepted (json)', () => {
  const h = useHarness('json')

  it('an id or tag written 1.0 or 1e0 is 1; whitespace does not matter', async () => {
    const client = await h.open()
    client.sendRaw('[1.0,1.0,"math.add",null,{"b":2,"a":1}]', false)
    expect(await client.next()).toEqual({ t: 'result', id: 1, output: 3 })
    client.sendRaw(' [\n  1e0 , 2e0 , "math.add" , null , { "a" : 2, "b" : 2 } ]\t', false)
    expect(await client.next()).toEqual({ t: 'result', id: 2, output: 4 })
    client.sendRaw('[1,1.5,"math.add",null,{"a":1,"b":2}]', false)
    await client.expectClose(4400, /id/)
  })
})

describe('§3 any valid encoding of a message is accepted (msgpack)', () => {
  const h = useHarness('msgpack')

  it('fixarray, array 16, array 32, str 8 and 64-bit integers decode alike', async () => {
    const client = await h.open()
    // [1, 7, 'math.add', nil, {b:2, a:1}] as Python's msgpack.packb writes it: fixarray (0x9N).
    client.sendRaw(Uint8Array.from([0x95, 0x01, 0x07, ...str('math.add'), 0xc0, 0x82, ...str('b'), 2, ...str('a'), 1]), true)
    expect(await client.next()).toEqual({ t: 'result', id: 7, output: 3 })
    // array 16, the tag as a uint 8, str 8 strings, the id as an int 64.
    const id64 = [0xd3, 0, 0, 0, 0, 0, 0, 0, 8]
    client.sendRaw(Uint8Array.from([0xdc, 0, 5, 0xcc, 0x01, ...id64, ...str('math.add', true), 0xc0, ...A1_B2]), true)
    expect(await client.next()).toEqual({ t: 'result', id: 8, output: 3 })
    // array 32, the tag as an int 64, and an empty map 16 meta.
    client.sendRaw(Uint8Array.from([0xdd, 0, 0, 0, 5, 0xd3, 0, 0, 0, 0, 0, 0, 0, 1, 9, ...str('math.add'), 0xde, 0, 0, ...A1_B2]), true)
    expect(await client.next()).toEqual({ t: 'result', id: 9, output: 3 })
  })
})

describe('§3, §9 a request whose values msgpackr cannot build (msgpack)', () => {
  const h = useHarness('msgpack')

  it.each<[string, number[]]>([
    ['a bin map key in the input', [0x95, 0x01, 0x07, ...str('math.add'), 0xc0, ...BIN_KEY_MAP]],
    ['a bin map key in the meta', [0x95, 0x01, 0x07, ...str('math.add'), ...BIN_KEY_MAP, ...A1_B2]],
    ['input nested 100,000 deep', [0x95, 0x01, 0x07, ...str('math.add'), 0xc0, ...new Array<number>(100_000).fill(0x91), 0x90]],
    ['a bin map key in a sub\'s params', [0x95, 0x07, 0x07, ...str('chat'), 0xc0, ...BIN_KEY_MAP]],
    ['a bin map key in a pub\'s data', [0x95, 0x09, 0x07, ...str('chat'), 0xc0, ...BIN_KEY_MAP]],
    ['a bin map key in a stream\'s input', [0x96, 0x0c, 0x07, ...str('count'), 0xc0, 0x01, ...BIN_KEY_MAP]],
    ['a bin map key in an element past the known ones', [0x96, 0x01, 0x07, ...str('math.add'), 0xc0, ...A1_B2, ...BIN_KEY_MAP]],
    ['the id as an integral float 64', [0x95, 0x01, 0xcb, 0x40, 0x1c, 0, 0, 0, 0, 0, 0, ...str('math.add'), 0xc0, ...BIN_KEY_MAP]],
    // msgpackr reads a float 32 7.0 as 7, so a frame it can build with that id is served: the same id here.
    ['the id as an integral float 32', [0x95, 0x01, 0xca, 0x40, 0xe0, 0, 0, ...str('math.add'), 0xc0, ...BIN_KEY_MAP]],
  ])('%s: BAD_REQUEST for its id, the connection lives', async (_name, bytes) => {
    const client = await h.open()
    client.sendRaw(Uint8Array.from(bytes), true)
    expect(await client.next()).toMatchObject({ t: 'error', id: 7, error: { code: 'BAD_REQUEST', message: expect.stringMatching(/^message refused: /) } })
    expect(await client.call(8, 'math.add', { a: 1, b: 2 })).toEqual({ t: 'result', id: 8, output: 3 })
  })

  it.each<[string, number[], RegExp]>([
    // §3's reasons, as for a frame msgpackr can build.
    ['the frame is a map msgpackr cannot build', [0x82, ...str('t'), 0x01, 0xc4, 0x01, 0x00, 0x01], /^message is not an array$/],
    ['element 0 (the tag) is a map msgpackr cannot build', [0x93, ...BIN_KEY_MAP, 0x07, ...str('math.add')], /^message has no type$/],
    ['element 0 is nested 100,000 deep', [...new Array<number>(100_000).fill(0x91), 0x90], /^message has no type$/],
    ['an unknown tag', [0x93, 0x0f, 0x07, ...BIN_KEY_MAP], /^unknown message type$/],
    ['a server type', [0x93, 0x02, 0x07, ...BIN_KEY_MAP], /^result is a server-to-client message$/],
    ['element 1 (the id) is a map msgpackr cannot build', [0x95, 0x01, ...BIN_KEY_MAP, ...str('math.add'), 0xc0, ...A1_B2], /^call id is not a non-negative safe integer$/],
    ['the id is a string', [0x95, 0x01, ...str('7'), ...str('math.add'), 0xc0, ...BIN_KEY_MAP], /^call id is not a non-negative safe integer$/],
    ['the id is beyond 2^53 (uint 64)', [0x95, 0x01, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...str('math.add'), 0xc0, ...BIN_KEY_MAP], /^call id is not/],
    ['the id is negative (a negative fixint)', [0x95, 0x07, 0xff, ...str('chat'), 0xc0, ...BIN_KEY_MAP], /^sub id is not/],
    // Not a request, so nobody to answer: the frame does not decode.
    ['a cancel', [0x93, 0x04, 0x07, ...BIN_KEY_MAP], /cannot be decoded/],
  ])('%s: close 4400', async (_name, bytes, reason) => {
    const client = await h.open()
    client.sendRaw(Uint8Array.from(bytes), true)
    await client.expectClose(4400, reason)
  })
})

describe.each<Encoding>(ENCODINGS)('§7 ping (%s)', (encoding) => {
  const h = useHarness(encoding)

  it('answers [5] (ping) with [6] (pong), and never answers a pong', async () => {
    const client = await h.open()
    client.sendRaw(encodeValue(encoding, [6]), encoding === 'msgpack')
    client.sendRaw(encodeValue(encoding, [5]), encoding === 'msgpack')
    expect(await client.next()).toEqual({ t: 'pong' })
    client.send({ t: 'ping' })
    client.send({ t: 'ping' })
    expect(await client.take(2)).toEqual([{ t: 'pong' }, { t: 'pong' }])
    expect(client.received).toHaveLength(3)
    const raw = client.receivedBytes[0] as Buffer
    if (encoding === 'json') expect(raw.toString('utf8')).toBe('[6]')
    else expect([...raw]).toEqual([0x91, 0x06])
  })
})
