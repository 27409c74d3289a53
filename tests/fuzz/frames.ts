/**
 * Arbitraries for the fuzz suite: valid frames of every message type of docs/protocol.md
 * (client → server, and server → client types sent the wrong way), as §3's arrays, then
 * mutated element by element: missing, extra, reordered and wrong-typed elements (huge,
 * negative and fractional numbers, deep nesting), unknown tags, bad metas (not a map, wrong
 * values, unknown and `__proto__` keys), v1's maps and values that are no array; and at the
 * byte level: truncation, random bytes, the wrong frame kind.
 * Ids come from a small pool so that sequences collide: cancel before call, credit for a
 * stream that ended, unsub of nothing, a sub reusing a call's id.
 */
import fc from 'fast-check'
import { Packr } from 'msgpackr'
import type { Encoding } from '@patchbay/core'
import { fromWire, TAG, toWire } from '../support/wire.js'

/** The paths of fixtures/heap-server.mjs, and some that are not. */
const PATHS = ['add', 'echo', 'keyed', 'wait', 'room', 'ticker', 'count', 'nope', '__proto__', 'constructor', 'add.x', '']
const path = fc.constantFrom(...PATHS)
const id = fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 6 }) }, fc.constantFrom(-1, 0.5, 2 ** 53, 2 ** 31, Number.MAX_SAFE_INTEGER))
const key = fc.oneof(fc.constantFrom('k1', 'k2', 'k3'), fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/))
const text = fc.string({ maxLength: 40 })

/** Values that are wrong for nearly any field. */
const weird: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, -1, 0, 0.5, -0.5, 1e308, -1e308, 2 ** 53, 2 ** 64, -(2 ** 63), Number.MAX_SAFE_INTEGER + 2, '', 'x'.repeat(5_000), [], {}),
  fc.double(),
  fc.string({ maxLength: 20 }),
  fc.anything({ maxDepth: 3, maxKeys: 4 }),
  fc.integer({ min: 2, max: 4_000 }).map((depth) => nested(depth)),
)

/** `depth` levels of arrays and objects. */
export function nested(depth: number): unknown {
  let value: unknown = 0
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { a: value }
  return value
}

const input = fc.oneof(
  fc.record({ a: fc.integer(), b: fc.integer() }),
  fc.record({ ms: fc.integer({ min: 0, max: 50 }) }),
  fc.record({ n: fc.integer() }),
  fc.record({ to: fc.integer({ min: 0, max: 100 }) }),
  fc.jsonValue({ maxDepth: 3 }),
)
const params = fc.oneof(fc.record({ room: fc.constantFrom('a', 'b', 'c') }), fc.record({ room: text }), fc.constant(undefined), fc.jsonValue({ maxDepth: 2 }))
const resume = fc.record({ epoch: fc.oneof(fc.constant('x.1'), text), seq: fc.oneof(fc.nat(), fc.constantFrom(-1, 0.5, 2 ** 60)) })

/** One valid-looking message of each type the protocol knows, as a test's message object. */
const baseMessage: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({ t: fc.constant('call'), id, path, input }, { requiredKeys: ['t', 'id', 'path'] }),
  fc.record({ t: fc.constant('call'), id, path: fc.constant('keyed'), input: fc.record({ n: fc.integer() }), key }),
  fc.record({ t: fc.constant('cancel'), id }),
  fc.record({ t: fc.constant('sub'), id, path: fc.constantFrom('room', 'ticker', 'nope'), params, resume }, { requiredKeys: ['t', 'id', 'path'] }),
  fc.record({ t: fc.constant('unsub'), id }),
  fc.record({ t: fc.constant('pub'), id, path: fc.constantFrom('room', 'ticker', 'nope'), params, data: fc.oneof(fc.record({ text }), fc.record({ n: fc.double() })) }, { requiredKeys: ['t', 'id', 'path'] }),
  fc.record({ t: fc.constant('stream'), id, path: fc.constantFrom('count', 'add', 'nope'), input, credit: fc.oneof(fc.integer({ min: 1, max: 64 }), weird), received: fc.nat(200) }, { requiredKeys: ['t', 'id', 'path', 'credit'] }),
  fc.record({ t: fc.constant('credit'), id, n: fc.oneof(fc.integer({ min: 1, max: 1_000 }), weird) }),
  fc.constant({ t: 'ping' }),
  fc.constant({ t: 'pong' }),
  // Server → client types, sent the wrong way.
  fc.record({ t: fc.constant('result'), id, output: input }),
  fc.record({ t: fc.constant('error'), id, error: fc.record({ code: fc.constantFrom('INTERNAL', 'X'), message: text }) }),
  fc.record({ t: fc.constant('event'), ch: fc.nat(10), seq: fc.nat(), data: input }),
  fc.record({ t: fc.constant('item'), id, data: input }),
  fc.record({ t: fc.constant('lag'), ch: fc.nat(10), seq: fc.nat(), missed: fc.nat() }),
)

/** A tag that is no type of §3: integers around and far past the table, and non-integers. */
const unknownTag: fc.Arbitrary<unknown> = fc.oneof(fc.constantFrom(0, 15, 16, 255, 256, 65_536, -1, 2 ** 53, 1.5, '1', 'call'), fc.integer({ min: 15, max: 1_000 }), weird)

/**
 * One valid-looking frame of each type, as its §3 array (tests/support/wire.ts), or an array
 * whose tag is no type.
 */
const base: fc.Arbitrary<unknown[]> = fc.oneof(
  { weight: 15, arbitrary: baseMessage.map((message) => toWire(message) as unknown[]) },
  fc.tuple(unknownTag, id).map(([tag, n]) => [tag, n]),
)

/** §3's request tags: element 3 is their meta. */
const REQUEST_TAGS = new Set<unknown>([TAG.call, TAG.sub, TAG.pub, TAG.stream])

/** Meta maps whose known keys hold the wrong kind, next to unknown and prototype-named keys. */
const badMetaMap: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(fc.constantFrom('key', 'resume', 'received', 'traceparent', 'tracestate', 'unknown', '__proto__', 'constructor'), weird, fc.option(resume, { nil: undefined }))
  .map(([name, value, kept]) => {
    const meta: Record<string, unknown> = kept === undefined ? {} : { resume: kept }
    // defineProperty: an own `__proto__` key, as JSON.parse and msgpackr would hand it over.
    Object.defineProperty(meta, name, { value, enumerable: true, configurable: true, writable: true })
    return meta
  })

type Mutation = (frame: unknown[]) => unknown

/** A copy of `frame` with element `at` (taken modulo its length) changed by `change`. */
function atElement(frame: unknown[], n: number, change: (copy: unknown[], at: number) => void): unknown[] {
  const copy = [...frame]
  if (copy.length > 0) change(copy, n % copy.length)
  return copy
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 12, arbitrary: fc.constant((frame: unknown[]) => frame) },
  // A missing element: one taken out, the ones after it moved up.
  fc.nat().map((n) => (frame: unknown[]) => atElement(frame, n, (copy, at) => copy.splice(at, 1))),
  // The array ending early (down to `[]`): required fields absent.
  fc.nat().map((n) => (frame: unknown[]) => frame.slice(0, n % (frame.length + 1))),
  // Extra elements at the end (to be ignored, §3) or in the middle (shifting the rest).
  fc.array(weird, { minLength: 1, maxLength: 3 }).map((extra) => (frame: unknown[]) => [...frame, ...extra]),
  fc.tuple(fc.nat(), weird).map(([n, value]) => (frame: unknown[]) => atElement(frame, n, (copy, at) => copy.splice(at, 0, value))),
  // Two elements swapped: fields in the wrong order.
  fc.tuple(fc.nat(), fc.nat()).map(([i, j]) => (frame: unknown[]) =>
    atElement(frame, i, (copy, at) => {
      const other = j % copy.length
      ;[copy[at], copy[other]] = [copy[other], copy[at]]
    }),
  ),
  // An element of the wrong type; the tag itself, more often.
  fc.tuple(fc.nat(), weird).map(([n, value]) => (frame: unknown[]) => atElement(frame, n, (copy, at) => (copy[at] = value))),
  unknownTag.map((tag) => (frame: unknown[]) => [tag, ...frame.slice(1)]),
  // A bad meta on a request: not a map or null, or a map with wrong values and odd keys; a
  // request that had no meta gets one (null-padded up to element 3).
  fc.oneof(weird, badMetaMap).map((meta) => (frame: unknown[]) => {
    if (!REQUEST_TAGS.has(frame[0])) return frame
    const copy = [...frame]
    while (copy.length < 3) copy.push(null)
    copy[3] = meta
    return copy
  }),
  // The same message as v1's map `{ t, id, ... }`, no longer an array.
  fc.constant((frame: unknown[]) => fromWire(frame)),
  // Not a message at all.
  weird.map((value) => () => value),
)

/** What goes on the wire, before the encoding decides its bytes. */
export type Framing =
  | { kind: 'encoded'; message: unknown }
  | { kind: 'wrongKind'; message: unknown }
  | { kind: 'truncated'; message: unknown; keep: number }
  | { kind: 'bytes'; bytes: Uint8Array; binary: boolean }

const message = fc.tuple(base, mutation).map(([valid, mutate]) => mutate(valid))

/** One frame's plan. */
export const framing: fc.Arbitrary<Framing> = fc.oneof(
  { weight: 30, arbitrary: message.map((value): Framing => ({ kind: 'encoded', message: value })) },
  message.map((value): Framing => ({ kind: 'wrongKind', message: value })),
  fc.tuple(message, fc.double({ min: 0, max: 1, noNaN: true })).map(([value, keep]): Framing => ({ kind: 'truncated', message: value, keep })),
  fc.tuple(fc.uint8Array({ maxLength: 64 }), fc.boolean()).map(([bytes, binary]): Framing => ({ kind: 'bytes', bytes, binary })),
)

const packr = new Packr({ useRecords: false })

/** Encodes `value` as the encoding would; JSON that cannot be written (a BigInt) becomes its closest text. */
function encodeAs(encoding: Encoding, value: unknown): string | Uint8Array {
  if (encoding === 'msgpack') {
    try {
      return packr.pack(value)
    } catch {
      return new Uint8Array([0xc1]) // never-used byte: a frame that does not decode
    }
  }
  try {
    return JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? Number(item) : item)) ?? 'undefined'
  } catch {
    return '[1,'
  }
}

/** The bytes and frame kind to send for one plan on a connection of `encoding`. */
export function toFrame(encoding: Encoding, plan: Framing): { data: string | Uint8Array; binary: boolean } {
  const binary = encoding === 'msgpack'
  switch (plan.kind) {
    case 'encoded':
      return { data: encodeAs(encoding, plan.message), binary }
    case 'wrongKind':
      return { data: encodeAs(encoding, plan.message), binary: !binary }
    case 'truncated': {
      const data = encodeAs(encoding, plan.message)
      return { data: data.slice(0, Math.floor(data.length * plan.keep)), binary }
    }
    case 'bytes':
      return { data: plan.bytes, binary: plan.binary }
  }
}

/** One fuzzing connection: its encoding, its frames, and how it ends. */
export interface ConnectionPlan {
  encoding: Encoding
  frames: Framing[]
  end: 'close' | 'terminate'
}

/**
 * Well-formed client messages with ids from the small pool, unmutated: a connection made of
 * these lives long enough to put valid frames in bad orders (cancel before call, credit for
 * a stream that ended, unsub of nothing, one id for a call and a sub).
 */
const CLIENT_TYPES = ['call', 'cancel', 'sub', 'unsub', 'pub', 'stream', 'credit', 'ping', 'pong']

const wellFormed: fc.Arbitrary<Framing> = fc
  .record({ message: baseMessage, id: fc.integer({ min: 0, max: 6 }) })
  .filter(({ message }) => typeof message.t === 'string' && CLIENT_TYPES.includes(message.t))
  .map(({ message, id: small }): Framing => ({ kind: 'encoded', message: toWire('id' in message ? { ...message, id: small } : message) }))

export const connectionPlan: fc.Arbitrary<ConnectionPlan> = fc.record({
  encoding: fc.constantFrom<Encoding>('json', 'msgpack'),
  frames: fc.oneof(fc.array(framing, { minLength: 1, maxLength: 25 }), fc.array(wellFormed, { minLength: 1, maxLength: 40 })),
  end: fc.constantFrom<'close' | 'terminate'>('close', 'terminate'),
})
