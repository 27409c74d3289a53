/**
 * Arbitraries for the fuzz suite: valid frames of every message type of docs/protocol.md
 * (client → server, and server → client types sent the wrong way), then mutated: fields
 * deleted, wrong types, huge, negative and fractional numbers, deep nesting, unknown types
 * and fields; and at the byte level: truncation, random bytes, the wrong frame kind.
 * Ids come from a small pool so that sequences collide: cancel before call, credit for a
 * stream that ended, unsub of nothing, a sub reusing a call's id.
 */
import fc from 'fast-check'
import { Packr } from 'msgpackr'
import type { Encoding } from '@patchbay/core'

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

/** One valid-looking message of each type the protocol knows. */
const base: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
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
  // Unknown types.
  fc.record({ t: fc.oneof(text, weird), id }),
)

type Mutation = (message: Record<string, unknown>) => unknown

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 12, arbitrary: fc.constant((message: Record<string, unknown>) => message) },
  // Delete a field.
  fc.nat().map((n) => (message: Record<string, unknown>) => {
    const keys = Object.keys(message)
    const copy = { ...message }
    delete copy[keys[n % keys.length] as string]
    return copy
  }),
  // A wrong value for a field.
  fc.tuple(fc.nat(), weird).map(([n, value]) => (message: Record<string, unknown>) => {
    const keys = Object.keys(message)
    return { ...message, [keys[n % keys.length] as string]: value }
  }),
  // An extra, unknown field; a `__proto__` own key.
  fc.tuple(fc.constantFrom('extra', '__proto__', 'constructor', 'zz'), weird).map(([name, value]) => (message: Record<string, unknown>) => {
    const copy: Record<string, unknown> = { ...message }
    Object.defineProperty(copy, name, { value, enumerable: true, configurable: true, writable: true })
    return copy
  }),
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
    return '{"t":'
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
  .record({ message: base, id: fc.integer({ min: 0, max: 6 }) })
  // `t` may be any value here (an unknown type's), an object without a prototype included,
  // which String() cannot convert: compare strings only.
  .filter(({ message }) => typeof message.t === 'string' && CLIENT_TYPES.includes(message.t))
  .map(({ message, id: small }): Framing => ({ kind: 'encoded', message: 'id' in message ? { ...message, id: small } : message }))

export const connectionPlan: fc.Arbitrary<ConnectionPlan> = fc.record({
  encoding: fc.constantFrom<Encoding>('json', 'msgpack'),
  frames: fc.oneof(fc.array(framing, { minLength: 1, maxLength: 25 }), fc.array(wellFormed, { minLength: 1, maxLength: 40 })),
  end: fc.constantFrom<'close' | 'terminate'>('close', 'terminate'),
})
