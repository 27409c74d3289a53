/**
 * The encoded examples and the envelope tables of docs/protocol.md are what the code does:
 * every `JSON` line is followed by a `msgpack` line of the same message, each example is the
 * exact frame that Patchbay's codecs produce for it, every one passes its receiver's parser
 * and reads as the same message in tests/support/wire.ts (the tests' own reading of §3), and
 * §3's tag table and violation reasons are the parsers'. A change to a message that forgets
 * the document fails here.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { msgpackServerCodec as msgpackCodec } from '@patchbay/core/msgpack'
import { jsonCodec, parseClientMessage, parseServerMessage, ProtocolViolation, Tag } from '@patchbay/core'
import { fromWire, TAG, toWire } from '../support/wire.js'

const document = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8')
const lines = document.split('\n')

interface Example {
  line: number
  json: string
  msgpackHex: string
}

function examples(): Example[] {
  const found: Example[] = []
  lines.forEach((text, index) => {
    // A line may hold several examples, three or more spaces apart (ping and pong).
    const jsons = /^JSON {5}(.+)$/.exec(text)?.[1]?.split(/ {3,}/)
    if (jsons === undefined) return
    const hexes = /^msgpack {2}(.+)$/.exec(lines[index + 1] ?? '')?.[1]?.split(/ {3,}/) ?? []
    if (hexes.length !== jsons.length) throw new Error(`docs/protocol.md:${index + 1}: JSON examples without their msgpack line`)
    jsons.forEach((json, at) => found.push({ line: index + 1, json, msgpackHex: hexes[at] as string }))
  })
  return found
}

/** The rows of the table that starts with `header` (the line itself), as cells. */
function table(header: string): string[][] {
  const start = lines.indexOf(header)
  if (start === -1) throw new Error(`docs/protocol.md has no table "${header}"`)
  const rows: string[][] = []
  for (let at = start + 2; lines[at]?.startsWith('|') === true; at++) {
    rows.push((lines[at] as string).slice(1, -1).split(' | ').map((cell) => cell.trim()))
  }
  return rows
}

/** The `code` spans of a table cell. */
const spans = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1] as string)

const SERVER_TAGS = new Set<unknown>([Tag.RESULT, Tag.ERROR, Tag.EVENT, Tag.LAG, Tag.ITEM, Tag.PING, Tag.PONG])
const CLIENT_TAGS = new Set<unknown>([Tag.CALL, Tag.CANCEL, Tag.SUB, Tag.UNSUB, Tag.PUB, Tag.STREAM, Tag.CREDIT, Tag.PING, Tag.PONG])
const limits = { maxDepth: 32, maxPathLength: 256 }

describe('docs/protocol.md examples', () => {
  const all = examples()

  it('has examples to check', () => {
    expect(all.length).toBeGreaterThanOrEqual(21)
  })

  it.each(all.map((example) => [example.line, example] as const))('line %i: the JSON and msgpack lines are the codecs’ own frames of one message', (_line, example) => {
    const message: unknown = JSON.parse(example.json)
    expect(Array.isArray(message)).toBe(true)
    expect(jsonCodec.encode(message)).toBe(example.json)
    const bytes = Uint8Array.from(Buffer.from(example.msgpackHex, 'hex'))
    expect(msgpackCodec.decode(bytes)).toEqual(message)
    expect(Buffer.from(msgpackCodec.encode(message)).toString('hex')).toBe(example.msgpackHex)
  })

  it.each(all.map((example) => [example.line, example] as const))('line %i: the message is valid for the side that receives it, and reads as §3 says', (_line, example) => {
    const frame = JSON.parse(example.json) as unknown[]
    const tag = frame[0]
    expect(SERVER_TAGS.has(tag) || CLIENT_TAGS.has(tag)).toBe(true)
    // tests/support/wire.ts reads the array as a message object; written back, it is the same
    // array: no absent field is written, none is missing (§3.1).
    const expected = fromWire(frame)
    expect(toWire(expected)).toEqual(frame)
    if (SERVER_TAGS.has(tag)) expect(parseServerMessage(frame, limits)).toEqual(expected)
    if (CLIENT_TAGS.has(tag)) expect(parseClientMessage(frame, limits)).toEqual({ kind: 'message', message: expected })
  })
})

describe('docs/protocol.md §3 tables', () => {
  it('the tag table is the tags of @patchbay/core and of tests/support/wire.ts', () => {
    const rows = table('| tag | type | direction | array | § |')
    const documented = Object.fromEntries(rows.map(([tag, type]) => [spans(type as string)[0], Number(tag)]))
    expect(documented).toEqual(TAG)
    expect(Object.fromEntries(Object.entries(Tag).map(([name, tag]) => [name.toLowerCase(), tag]))).toEqual(TAG)
    // Each row's array starts with its own tag.
    for (const [tag, , , array] of rows) expect(spans(array as string).every((shape) => shape.startsWith(`[${tag as string},`) || shape === `[${tag as string}]`)).toBe(true)
  })

  it('every frame of the violation table closes with the reason it gives, on the server and (for a reply) on the client', () => {
    const rows = table('| the frame | close 4400 with the reason |')
    expect(rows).toHaveLength(4)
    for (const [frames, reasonCell] of rows) {
      const [reason] = spans(reasonCell as string)
      const shown = spans(frames as string)
      expect(shown.length).toBeGreaterThan(0)
      for (const text of shown) {
        const frame: unknown = JSON.parse(text)
        expect(parseClientMessage(frame, limits), text).toEqual({ kind: 'violation', reason })
        // A server frame the client refuses gets the same reason, but for the last row: a
        // result is what a server sends.
        if (!(Array.isArray(frame) && frame[0] === Tag.RESULT)) expect(parseServerMessage(frame, limits), text).toEqual(new ProtocolViolation(reason as string))
      }
    }
  })
})

describe('docs/protocol.md §3.3: the bytes it gives', () => {
  it('are the byte counts of §4’s call and result and §12’s event, as arrays and as v1’s maps, in both codecs', () => {
    const frames = examples().map((example) => JSON.parse(example.json) as unknown[])
    const call = frames.find((frame) => frame[0] === Tag.CALL && frame[2] === 'math.add')
    const result = frames.find((frame) => frame[0] === Tag.RESULT && frame[1] === call?.[1])
    const event = frames.find((frame) => frame[0] === Tag.EVENT)
    // v1's maps held the same fields in the same order, type first (fromWire's object).
    const bytes = (frame: unknown[] | undefined): number[] => {
      const map = fromWire(frame)
      return [jsonCodec.encode(map), jsonCodec.encode(frame), msgpackCodec.encode(map), msgpackCodec.encode(frame)].map((encoded) =>
        typeof encoded === 'string' ? Buffer.byteLength(encoded) : encoded.byteLength,
      )
    }
    const rows = table('| message | JSON, map | JSON, array | MessagePack, map | MessagePack, array |')
    expect(rows.map((row) => row.slice(1).map(Number))).toEqual([bytes(call), bytes(result), bytes(event)])
    const [jsonMap, jsonArray, msgpackMap, msgpackArray] = bytes(call).map((count, at) => count + (bytes(result)[at] ?? 0))
    expect(document).toContain(`A round trip takes ${String(jsonArray)} bytes instead of ${String(jsonMap)} in JSON, ${String(msgpackArray)} instead of ${String(msgpackMap)} in MessagePack.`)
  })
})

describe('docs/protocol.md §3.1, §3.2: positions and meta', () => {
  const client = (frame: unknown): unknown => parseClientMessage(frame, limits)

  it('a client-to-server type sent by a server is an unknown type to the client (§3)', () => {
    expect(parseServerMessage([Tag.CALL, 1, 'math.add'], limits)).toEqual(new ProtocolViolation('unknown message type'))
  })

  it('a tag is an integer however written: 1.0 in JSON and an integral float 64 in msgpack are tag 1 (§3, §4.1)', () => {
    expect(client(jsonCodec.decode('[5.0]'))).toEqual({ kind: 'message', message: { t: 'ping' } })
    // [5.0]: a fixarray of one float 64.
    expect(client(msgpackCodec.decode(Uint8Array.from(Buffer.from('91cb4014000000000000', 'hex'))))).toEqual({ kind: 'message', message: { t: 'ping' } })
  })

  it('a meta written as null when nothing follows is the same as none, and so is an empty map (§3.2)', () => {
    const plain = client([Tag.CALL, 2, 'health'])
    expect(client([Tag.CALL, 2, 'health', null])).toEqual(plain)
    expect(client([Tag.CALL, 2, 'health', {}])).toEqual(plain)
    expect(plain).toEqual({ kind: 'message', message: { t: 'call', id: 2, path: 'health' } })
  })

  it('a payload null is the value null, an absent one is absent (§3.1)', () => {
    expect(client([Tag.CALL, 2, 'health', null, null])).toEqual({ kind: 'message', message: { t: 'call', id: 2, path: 'health', input: null } })
    expect(parseServerMessage([Tag.RESULT, 1, null], limits)).toStrictEqual({ t: 'result', id: 1, output: null })
    expect(parseServerMessage([Tag.RESULT, 1], limits)).toStrictEqual({ t: 'result', id: 1, output: undefined })
  })

  it('elements past the ones a type defines, and meta keys a request does not define, are ignored (§3.1, §3.2)', () => {
    expect(client([Tag.PING, 'later'])).toEqual({ kind: 'message', message: { t: 'ping' } })
    expect(client([Tag.CANCEL, 3, { later: 1 }])).toEqual({ kind: 'message', message: { t: 'cancel', id: 3 } })
    expect(client([Tag.SUB, 4, 'chat.room', { key: 'not-for-subs', later: true }, { room: 'lobby' }, 'later'])).toEqual({
      kind: 'message',
      message: { t: 'sub', id: 4, path: 'chat.room', params: { room: 'lobby' } },
    })
    expect(parseServerMessage([Tag.RESULT, 1, 3, { later: 1 }], limits)).toEqual({ t: 'result', id: 1, output: 3 })
  })

  it('a meta key holding null is present, and checked: key, resume and received are BAD_REQUEST; trace context is ignored (§3.2)', () => {
    const bad = (id: number, message: string): unknown => ({ kind: 'reject', id, error: { code: 'BAD_REQUEST', message } })
    expect(client([Tag.CALL, 1, 'math.add', { key: null }, { a: 1, b: 2 }])).toEqual(bad(1, 'key must be 1 to 64 characters of [A-Za-z0-9_-]'))
    expect(client([Tag.SUB, 2, 'chat.room', { resume: null }, { room: 'lobby' }])).toEqual(bad(2, 'resume must be an object { epoch, seq }'))
    expect(client([Tag.STREAM, 3, 'market.ticks', { received: null }, 8])).toEqual(bad(3, 'received must be a non-negative integer'))
    expect(client([Tag.CALL, 4, 'math.add', { traceparent: null, tracestate: null }])).toEqual({ kind: 'message', message: { t: 'call', id: 4, path: 'math.add' } })
  })

  it('a meta that is neither null nor a map is BAD_REQUEST for the id (§3.2); a stream checks its credit first (§15)', () => {
    for (const meta of ['nope', 7, true, []]) {
      expect(client([Tag.CALL, 1, 'math.add', meta])).toEqual({ kind: 'reject', id: 1, error: { code: 'BAD_REQUEST', message: 'meta must be a map or null' } })
    }
    expect(client([Tag.STREAM, 1, 'market.ticks', 'nope'])).toEqual({ kind: 'violation', reason: 'stream credit is not a positive safe integer' })
  })

  it('a required element missing takes that field’s rule (§3.1)', () => {
    expect(client([Tag.CALL, 5])).toEqual({ kind: 'reject', id: 5, error: { code: 'BAD_REQUEST', message: 'path must be a string' } })
    expect(client([Tag.STREAM, 5, 'x', null])).toEqual({ kind: 'violation', reason: 'stream credit is not a positive safe integer' })
    expect(client([Tag.CANCEL])).toEqual({ kind: 'violation', reason: 'cancel id is not a non-negative safe integer' })
  })

  it('a lag names a new epoch only with null at element 3; a count beside an epoch is refused (§14)', () => {
    expect(parseServerMessage([Tag.LAG, 7, 0, null, 'k3J9xQ2mPa.8'], limits)).toEqual({ t: 'lag', ch: 7, seq: 0, epoch: 'k3J9xQ2mPa.8' })
    expect(parseServerMessage([Tag.LAG, 7, 3, 2, 'k3J9xQ2mPa.8'], limits)).toBeInstanceOf(ProtocolViolation)
    expect(parseServerMessage([Tag.LAG, 7, 3, null], limits)).toBeInstanceOf(ProtocolViolation)
  })

  it('an event or item that ends before its data carries no value (§3.1, §12)', () => {
    expect(parseServerMessage([Tag.EVENT, 7, 1], limits)).toEqual({ t: 'event', ch: 7, seq: 1, data: undefined })
    expect(parseServerMessage([Tag.ITEM, 6], limits)).toEqual({ t: 'item', id: 6, data: undefined })
  })
})
