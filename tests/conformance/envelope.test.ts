/**
 * §3 Envelope and §7 ping, with hand-made frames: what does not decode or is not a message
 * closes 4400, a frame of the wrong kind closes 1003, unknown fields are ignored.
 */
import { describe, expect, it } from 'vitest'
import type { Encoding } from '@patchbay/core'
import { ENCODINGS, encode, useHarness } from './support.js'

/** Bytes that are not MessagePack: 0xc1 is the one type byte the format never uses. */
const NEVER_USED = Uint8Array.of(0xc1)
/** A map header announcing two entries, then nothing. */
const TRUNCATED_MAP = Uint8Array.of(0x82, 0xa1, 0x74)

describe.each<Encoding>(ENCODINGS)('§3 envelope (%s)', (encoding) => {
  const h = useHarness(encoding)
  const binary = encoding === 'msgpack'

  const garbage: [string, string | Uint8Array][] =
    encoding === 'json'
      ? [
          ['invalid JSON', 'not json{'],
          ['truncated JSON', '{"t":"ping"'],
          ['trailing text', '{"t":"ping"} {"t":"ping"}'],
          ['an empty frame', ''],
        ]
      : [
          ['a never-used type byte', NEVER_USED],
          ['a truncated map', TRUNCATED_MAP],
          ['trailing bytes', Uint8Array.of(...(encode('msgpack', { t: 'ping' }) as Uint8Array), 0x01)],
          ['an empty frame', new Uint8Array(0)],
        ]

  it.each(garbage)('closes 4400 on %s', async (_name, frame) => {
    const client = await h.open()
    client.sendRaw(frame, binary)
    await client.expectClose(4400)
  })

  it.each([
    ['an array', [1, 2]],
    ['a string', 'x'],
    ['null', null],
    ['a number', 5],
    ['true', true],
  ])('closes 4400 on a value that is not an object: %s', async (_name, value) => {
    const client = await h.open()
    client.sendRaw(encode(encoding, value), binary)
    await client.expectClose(4400, /not an object/)
  })

  it.each([
    ['no t', { id: 1, path: 'math.add', input: { a: 1, b: 2 } }, /no type/],
    ['a t that is not a string', { t: 7 }, /no type/],
    ['an unknown t', { t: 'bogus', id: 1 }, /unknown message type/],
    ['a server-only t (result)', { t: 'result', id: 1, output: 3 }, /server-to-client/],
    ['a t with the wrong case', { t: 'PING' }, /unknown message type/],
  ])('closes 4400 on a message with %s', async (_name, message, reason) => {
    const client = await h.open()
    client.send(message)
    await client.expectClose(4400, reason)
  })

  it('closes 1003 on a frame of the wrong kind', async () => {
    const client = await h.open()
    // The right bytes, the wrong frame kind: JSON text in a binary frame, msgpack in a text frame.
    if (encoding === 'json') client.sendRaw(Buffer.from('{"t":"ping"}'), true)
    else client.sendRaw('{"t":"ping"}', false)
    await client.expectClose(1003, encoding === 'json' ? /binary frame/ : /text frame/)
  })

  it('ignores fields a message does not define', async () => {
    const client = await h.open()
    client.send({ t: 'ping', extra: 1, nested: { deep: [1, 2] } })
    expect(await client.next()).toEqual({ t: 'pong' })
    client.send({ t: 'call', id: 4, path: 'math.add', input: { a: 1, b: 2 }, v: 2, meta: { trace: 'abc' }, x: null })
    expect(await client.next()).toEqual({ t: 'result', id: 4, output: 3 })
  })
})

// docs/protocol.md §3 "Any valid encoding is accepted", §4.1: values, not byte layouts.
describe('§3 any valid encoding of a message is accepted (json)', () => {
  const h = useHarness('json')

  it('an id written 1.0 or 1e0 is id 1; whitespace and key order do not matter', async () => {
    const client = await h.open()
    client.sendRaw('{"id":1.0,"t":"call","input":{"b":2,"a":1},"path":"math.add"}', false)
    expect(await client.next()).toEqual({ t: 'result', id: 1, output: 3 })
    client.sendRaw(' {\n  "t" : "call", "id" : 2e0, "path" : "math.add", "input" : { "a" : 2, "b" : 2 } }\t', false)
    expect(await client.next()).toEqual({ t: 'result', id: 2, output: 4 })
    client.sendRaw('{"t":"call","id":1.5,"path":"math.add","input":{"a":1,"b":2}}', false)
    await client.expectClose(4400)
  })
})

describe('§3 any valid encoding of a message is accepted (msgpack)', () => {
  const h = useHarness('msgpack')

  it('fixmap, map 32, str 8 keys and 64-bit integers decode like msgpackr\'s own map 16', async () => {
    const client = await h.open()
    const str = (text: string): number[] => [0xa0 | text.length, ...Buffer.from(text)]
    const str8 = (text: string): number[] => [0xd9, text.length, ...Buffer.from(text)]
    // {t:'call', id:7, path:'math.add', input:{a:1, b:2}} as Python's msgpack.packb writes it:
    // fixmaps (0x8N), fixstr, positive fixints; keys in another order.
    const fixmap = [0x84, ...str('path'), ...str('math.add'), ...str('id'), 7, ...str('t'), ...str('call'), ...str('input'), 0x82, ...str('b'), 2, ...str('a'), 1]
    client.sendRaw(Uint8Array.from(fixmap), true)
    expect(await client.next()).toEqual({ t: 'result', id: 7, output: 3 })
    // The same with a map 32 envelope, str 8 keys and the id as an int 64.
    const map32 = [0xdf, 0, 0, 0, 4, ...str8('t'), ...str8('call'), ...str8('id'), 0xd3, 0, 0, 0, 0, 0, 0, 0, 8, ...str8('path'), ...str8('math.add'), ...str8('input'), 0x82, ...str8('a'), 2, ...str8('b'), 3]
    client.sendRaw(Uint8Array.from(map32), true)
    expect(await client.next()).toEqual({ t: 'result', id: 8, output: 5 })
  })
})

describe.each<Encoding>(ENCODINGS)('§7 ping (%s)', (encoding) => {
  const h = useHarness(encoding)

  it('answers {t:"ping"} with {t:"pong"}, and never answers a pong', async () => {
    const client = await h.open()
    client.send({ t: 'pong' })
    client.send({ t: 'ping' })
    expect(await client.next()).toEqual({ t: 'pong' })
    client.send({ t: 'ping' })
    client.send({ t: 'ping' })
    expect(await client.take(2)).toEqual([{ t: 'pong' }, { t: 'pong' }])
    expect(client.received).toHaveLength(3)
  })
})
