/**
 * docs/protocol.md §3: @patchbay/core's reader and writer of the positional envelope
 * (parseClientMessage, parseServerMessage, serverWire) against tests/support/wire.ts, which is
 * written again from the document. Each message object goes to the same array both ways and
 * comes back as itself; and every bad envelope gets §3's outcome from the parsers directly.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { DEFAULT_LIMITS, ProtocolViolation, parseClientMessage, parseServerMessage, serverWire, type ServerMessage } from '@patchbay/core'
import { TAG, fromWire, toWire } from '../support/wire.js'

const limits = DEFAULT_LIMITS
/**
 * A JSON value a server accepts (§9 refuses a `__proto__` or `__proto_` key: a property test
 * drew `{"__proto_":[]}` once in ~400 runs).
 */
const plain = fc.jsonValue({ maxDepth: 3 }).filter((value) => !/"__proto__?"/.test(JSON.stringify(value)))
/** A payload: any such value, null included; or absent. */
const payload = fc.option(plain, { nil: undefined, freq: 4 })
const id = fc.nat()
const count = fc.integer({ min: 1, max: 2 ** 31 })
const path = fc.constantFrom('health', 'math.add', 'a.b.c')
const epoch = fc.constantFrom('e1', 'k.2-x_y')

/** The object without its undefined fields, as a message object is compared. */
function defined(value: object): object {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined))
}

const serverMessages: fc.Arbitrary<ServerMessage> = fc.oneof(
  fc.record({ t: fc.constant('result' as const), id, output: payload }),
  fc.record({ t: fc.constant('error' as const), id, error: fc.record({ code: fc.constantFrom('BAD_REQUEST', 'INTERNAL'), message: fc.string() }) }),
  fc.record({ t: fc.constant('event' as const), ch: count, seq: count, data: payload }),
  fc.record({ t: fc.constant('item' as const), id, data: payload }),
  fc.record({ t: fc.constant('lag' as const), ch: count, seq: count, missed: count }),
  fc.record({ t: fc.constant('lag' as const), ch: count, seq: fc.nat(), epoch }),
  fc.constant({ t: 'ping' as const }),
  fc.constant({ t: 'pong' as const }),
)

const meta = {
  traceparent: fc.option(fc.constant('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'), { nil: undefined }),
}
const clientMessages = fc.oneof(
  fc.record({ t: fc.constant('call'), id, path, input: payload, key: fc.option(fc.constantFrom('k1', 'A_b-9'), { nil: undefined }), ...meta }),
  fc.record({ t: fc.constant('sub'), id, path, params: payload, resume: fc.option(fc.record({ epoch, seq: fc.nat() }), { nil: undefined }), ...meta }),
  fc.record({ t: fc.constant('pub'), id, path, data: plain, params: payload, ...meta }),
  fc.record({ t: fc.constant('stream'), id, path, credit: count, input: payload, received: fc.option(fc.nat(), { nil: undefined }), ...meta }),
  fc.record({ t: fc.constant('cancel'), id }),
  fc.record({ t: fc.constant('unsub'), id }),
  fc.record({ t: fc.constant('credit'), id, n: count }),
  fc.constant({ t: 'ping' }),
  fc.constant({ t: 'pong' }),
)

describe('§3 the envelope: core against the document (tests/support/wire.ts)', () => {
  it('a server message is the array the document gives, read back as itself', () => {
    fc.assert(
      fc.property(serverMessages, fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 2 }), (message, extra) => {
        const wire = serverWire(message)
        expect(wire).toEqual(toWire(message))
        // Absence is the array ending: no element is undefined, and the last one is present.
        expect(wire.every((element) => element !== undefined)).toBe(true)
        expect(fromWire(wire)).toEqual(defined(message))
        expect(parseServerMessage(wire, limits)).toEqual(message)
        // Elements past the known ones are ignored (§3), once the known ones are all written.
        const full = fromWire(toWire({ ...message, output: null, data: null })) as object
        const padded = [...(toWire(full) as unknown[]), ...extra]
        if (message.t !== 'lag') expect(parseServerMessage(padded, limits)).toEqual(full)
      }),
      { numRuns: 500 },
    )
  })

  it('a client message written as the document says is read as itself, with extra elements and meta keys ignored', () => {
    fc.assert(
      fc.property(clientMessages, fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 2 }), (message, extra) => {
        const wire = toWire(message) as unknown[]
        expect(parseClientMessage(wire, limits)).toEqual({ kind: 'message', message: defined(message) })
        const padded = [...wire]
        if (padded.length >= 4 && padded[3] !== null && typeof padded[3] === 'object') padded[3] = { ...(padded[3] as object), future: [1] }
        // Extra elements only once every known element is written.
        const known = { call: 5, sub: 5, pub: 6, stream: 6, cancel: 2, unsub: 2, credit: 3, ping: 1, pong: 1 }[message.t]
        while (padded.length < known) padded.push(null)
        const read = parseClientMessage([...padded, ...extra], limits)
        expect(read.kind).toBe('message')
      }),
      { numRuns: 500 },
    )
  })

  it('null is a value and absence is the array ending, in every payload', () => {
    expect(parseClientMessage([1, 1, 'a.b'], limits)).toEqual({ kind: 'message', message: { t: 'call', id: 1, path: 'a.b' } })
    const nullInput = parseClientMessage([1, 1, 'a.b', null, null], limits)
    expect(nullInput.kind === 'message' && 'input' in nullInput.message && nullInput.message.input).toBe(null)
    const absentInput = parseClientMessage([1, 1, 'a.b', null], limits)
    expect(absentInput.kind === 'message' && 'input' in absentInput.message ? absentInput.message.input : undefined).toBeUndefined()
    const stream = parseClientMessage([12, 1, 'a.b', null, 1, null], limits)
    expect(stream).toEqual({ kind: 'message', message: { t: 'stream', id: 1, path: 'a.b', credit: 1, input: null } })
    expect(parseServerMessage([2, 1, null], limits)).toEqual({ t: 'result', id: 1, output: null })
    expect(parseServerMessage([2, 1], limits)).toEqual({ t: 'result', id: 1 })
    expect(serverWire({ t: 'result', id: 1, output: null })).toEqual([2, 1, null])
    expect(serverWire({ t: 'result', id: 1 })).toEqual([2, 1])
    expect(serverWire({ t: 'item', id: 1, data: null })).toEqual([14, 1, null])
    expect(serverWire({ t: 'event', ch: 1, seq: 2, data: null })).toEqual([10, 1, 2, null])
  })
})

describe('§3 bad envelopes, read by the parsers', () => {
  const violation = (reason: string): unknown => ({ kind: 'violation', reason })

  it.each<[string, unknown, string]>([
    ['an object', { t: 'ping' }, 'message is not an array'],
    ['a string', '[5]', 'message is not an array'],
    ['null', null, 'message is not an array'],
    ['a number', 5, 'message is not an array'],
    ['an empty array', [], 'message has no type'],
    ['a string tag', ['ping'], 'message has no type'],
    ['a fractional tag', [5.5], 'message has no type'],
    ['a null tag', [null], 'message has no type'],
    ['tag 0', [0], 'unknown message type'],
    ['tag 15', [15], 'unknown message type'],
    ['a negative tag', [-5], 'unknown message type'],
    ['result', [2, 1, 3], 'result is a server-to-client message'],
    ['error', [3, 1, { code: 'INTERNAL', message: 'x' }], 'error is a server-to-client message'],
    ['event', [10, 1, 1, 'x'], 'event is a server-to-client message'],
    ['lag', [11, 1, 1, 1], 'lag is a server-to-client message'],
    ['item', [14, 1, 'x'], 'item is a server-to-client message'],
    ['a call without an id', [1], 'call id is not a non-negative safe integer'],
    ['a stream without credit', [12, 1, 'a.b'], 'stream credit is not a positive safe integer'],
  ])('a client frame that is %s: %s', (_name, frame, reason) => {
    expect(parseClientMessage(frame, limits)).toEqual(violation(reason))
  })

  it.each<[string, unknown]>([
    ['a string', 'key'],
    ['a number', 0],
    ['an array', []],
    ['true', true],
    ['false', false],
  ])('a request meta that is %s is BAD_REQUEST for its id, in every request type', (_name, bad) => {
    for (const frame of [
      [TAG.call, 9, 'a.b', bad],
      [TAG.call, 9, 'a.b', bad, { x: 1 }],
      [TAG.sub, 9, 'a.b', bad],
      [TAG.pub, 9, 'a.b', bad, 1],
      [TAG.stream, 9, 'a.b', bad, 1],
    ]) {
      expect(parseClientMessage(frame, limits), JSON.stringify(frame)).toEqual({ kind: 'reject', id: 9, error: { code: 'BAD_REQUEST', message: 'meta must be a map or null' } })
    }
  })

  it.each<[string, unknown, string]>([
    ['an object', { t: 'pong' }, 'message is not an array'],
    ['an empty array', [], 'message has no type'],
    ['a string tag', ['result', 1], 'message has no type'],
    ['tag 99', [99], 'unknown message type'],
  ])('a server frame that is %s: %s', (_name, frame, reason) => {
    expect(parseServerMessage(frame, limits)).toEqual(new ProtocolViolation(reason))
  })
})
