/**
 * docs/protocol.md §6, §9: the server never sends a frame Patchbay's own client refuses, in
 * either encoding. Values of every type (fast-check's `anything` with dates, BigInts, maps,
 * sets, typed arrays, sparse arrays, null prototypes, boxed values, plus NaN, ±Infinity, -0,
 * symbols, functions, `__proto__` keys and deep nesting) go through every server → client
 * path: a handler's result, a PatchbayError's `data`, a stream item, `server.publish` and a
 * client's `pub`. Each time the client either receives a plain value (and which one is
 * asserted), or the call fails with a typed error, or the publish throws one; never a close,
 * and the connection serves the next call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { DEFAULT_LIMITS, PatchbayError, findNonPlainData, type Encoding } from '@patchbay/core'
import { api, startInteropServer, type InteropServer } from './support.js'

const RUNS = 200

function nested(depth: number): unknown {
  let value: unknown = 1
  for (let i = 0; i < depth; i++) value = { a: value }
  return value
}

const leaf = fc.oneof(
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string(),
  fc.constant(null),
  fc.constant(undefined),
  fc.bigInt(),
  fc.uint8Array({ maxLength: 4 }),
  fc.constantFrom<unknown>(Symbol('s'), () => 1, -0, Number.NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER, 2 ** 40, new Date(0)),
)
const key = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('__proto__', '__proto_', 'constructor', 'toString', 'then', '0'))
const value = fc
  .oneof(
    { weight: 8, arbitrary: fc.anything({ key, values: [leaf], maxDepth: 3, maxKeys: 4, withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true, withNullPrototype: true, withBoxedValues: true }) },
    { weight: 1, arbitrary: fc.constantFrom(nested(10), nested(DEFAULT_LIMITS.maxDepth + 5)) },
  )
  // An object with a `then` function is a thenable: returned by a handler or yielded by an
  // async generator it is awaited (JavaScript's rule, not the protocol's), and `() => 1`
  // never settles. Nested deeper it is data like any other.
  .filter((v) => typeof (v as { then?: unknown } | null)?.then !== 'function')

/** What the frame carries as the other side reads it: bytes as arrays of numbers, for toEqual. */
function canon(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: [...value] }
  if (Array.isArray(value)) return Array.from(value, canon)
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {}
    for (const key in value) out[key] = canon((value as Record<string, unknown>)[key])
    return out
  }
  return value
}

/**
 * The value a client receives for plain `value` sent at the top of a field: JSON's reading of
 * it, in both encodings (undefined in an object dropped, in an array null, -0 as 0), except
 * that bytes are bytes under msgpack and what JSON.stringify makes of them under JSON (§9).
 */
function expected(value: unknown, encoding: Encoding): unknown {
  if (value === undefined) return undefined
  if (encoding === 'json') return JSON.parse(JSON.stringify(value)) as unknown
  return normalize(value, false)
}

function normalize(value: unknown, inArray: boolean): unknown {
  if (value === undefined) return inArray ? null : undefined
  if (value instanceof Uint8Array) return value
  if (Array.isArray(value)) return Array.from(value, (item) => normalize(item, true))
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {}
    for (const key in value) {
      const item = (value as Record<string, unknown>)[key]
      if (item !== undefined) out[key] = normalize(item, false)
    }
    return out
  }
  return Object.is(value, -0) ? 0 : value
}

function isPlain(value: unknown, offset: number): boolean {
  return findNonPlainData(value, DEFAULT_LIMITS.maxDepth, offset) === undefined
}

async function failure(promise: Promise<unknown>): Promise<PatchbayError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(PatchbayError)
    return error as PatchbayError
  }
  throw new Error('expected a failure')
}

/** The events a subscribed client hears, awaited one by one. */
class Heard {
  private readonly queue: unknown[] = []
  private waiters: ((message: unknown) => void)[] = []
  readonly listener = (message: unknown): void => {
    const waiter = this.waiters.shift()
    if (waiter) waiter(message)
    else this.queue.push(message)
  }
  next(): Promise<unknown> {
    return this.queue.length > 0 ? Promise.resolve(this.queue.shift()) : new Promise((resolve) => this.waiters.push(resolve))
  }
  get pending(): number {
    return this.queue.length
  }
}

let srv: InteropServer
let key_ = 0
const clients: Record<Encoding, ReturnType<InteropServer['client']>> = {} as Record<Encoding, ReturnType<InteropServer['client']>>
const heard: Record<Encoding, Heard> = { json: new Heard(), msgpack: new Heard() }
const closes: { encoding: Encoding; code: number | undefined; reason: string | undefined }[] = []

beforeAll(async () => {
  srv = await startInteropServer()
  for (const encoding of ['json', 'msgpack'] as const) {
    const client = srv.client(encoding)
    clients[encoding] = client
    client.on('state', (event) => {
      if (event.state === 'closed' || event.state === 'reconnecting') closes.push({ encoding, code: event.code, reason: event.reason })
    })
    await client.feed.subscribe({ room: 'property' }, heard[encoding].listener).ready
  }
})
afterAll(async () => {
  await srv.close()
})

async function stillServed(): Promise<void> {
  expect(closes).toEqual([])
  for (const encoding of ['json', 'msgpack'] as const) {
    await expect(clients[encoding].math.add({ a: 1, b: 2 })).resolves.toBe(3)
    expect(clients[encoding].state).toBe('open')
  }
}

describe.each<Encoding>(['json', 'msgpack'])('§9 every server → client path carries plain data or fails typed (%s)', (encoding) => {
  it('a handler result: the value, or INTERNAL "Result could not be encoded"', async () => {
    await fc.assert(
      fc.asyncProperty(value, async (v) => {
        const key = ++key_
        srv.values.set(key, v)
        const call = clients[encoding].give({ key })
        if (isPlain(v, 1)) expect(canon(await call)).toEqual(canon(expected(v, encoding)))
        else expect(await failure(call)).toMatchObject({ code: 'INTERNAL', message: 'Result could not be encoded' })
        srv.values.delete(key)
      }),
      { numRuns: RUNS },
    )
    await stillServed()
  })

  it('PatchbayError data: kept when plain, else dropped with code and message kept (§6)', async () => {
    await fc.assert(
      fc.asyncProperty(value, async (v) => {
        const key = ++key_
        srv.values.set(key, v)
        const error = await failure(clients[encoding].fail({ key }))
        expect(error.code).toBe('GIVEN')
        expect(error.message).toBe('a given error')
        if (isPlain(v, 2)) expect(canon(error.data)).toEqual(canon(expected(v, encoding)))
        else expect(error.data).toBeUndefined()
        srv.values.delete(key)
      }),
      { numRuns: RUNS },
    )
    await stillServed()
  })

  it('a stream item: the value then the next item, or the stream fails INTERNAL', async () => {
    await fc.assert(
      fc.asyncProperty(value, async (v) => {
        const key = ++key_
        srv.values.set(key, v)
        const got: unknown[] = []
        const loop = (async () => {
          for await (const item of clients[encoding].items({ key })) got.push(item)
        })()
        if (isPlain(v, 1)) {
          await loop
          expect(canon(got)).toEqual(canon([v === undefined ? undefined : expected(v, encoding), 'after']))
        } else {
          expect(await failure(loop)).toMatchObject({ code: 'INTERNAL' })
          expect(got).toEqual([])
        }
        srv.values.delete(key)
      }),
      { numRuns: RUNS },
    )
    await stillServed()
  })
})

describe('§9 published messages reach every subscriber as plain data, or the publish fails typed', () => {
  it('server.publish: both encodings hear the value, or it throws BAD_REQUEST and nobody hears', async () => {
    await fc.assert(
      fc.asyncProperty(value, async (v) => {
        let delivered: number | undefined
        try {
          delivered = srv.server.publish(api.feed, { room: 'property' }, v)
        } catch (error) {
          expect(error).toBeInstanceOf(PatchbayError)
          expect((error as PatchbayError).code).toBe('BAD_REQUEST')
          expect(isPlain(v, 1)).toBe(false)
          return
        }
        expect(isPlain(v, 1)).toBe(true)
        expect(delivered).toBe(2)
        for (const encoding of ['json', 'msgpack'] as const) {
          expect(canon(await heard[encoding].next())).toEqual(canon(expected(v, encoding)))
        }
      }),
      { numRuns: RUNS },
    )
    expect(heard.json.pending + heard.msgpack.pending).toBe(0)
    await stillServed()
  })

  it.each<Encoding>(['json', 'msgpack'])('a client pub (%s): both encodings hear one plain value, or the publish rejects typed', async (encoding) => {
    await fc.assert(
      fc.asyncProperty(value, async (v) => {
        let outcome: { delivered: number }
        try {
          outcome = await clients[encoding].feed.publish({ room: 'property' }, v)
        } catch (error) {
          expect(error).toBeInstanceOf(PatchbayError)
          expect(["BAD_REQUEST"]).toContain((error as PatchbayError).code)
          return
        }
        expect(outcome).toEqual({ delivered: 2 })
        const viaJson = await heard.json.next()
        const viaMsgpack = await heard.msgpack.next()
        expect(isPlain(viaJson, 1) && isPlain(viaMsgpack, 1)).toBe(true)
        // The same logical value in both encodings (bytes aside, which JSON cannot carry).
        expect(viaJson).toEqual(expected(viaMsgpack, 'json'))
      }),
      { numRuns: RUNS },
    )
    expect(heard.json.pending + heard.msgpack.pending).toBe(0)
    await stillServed()
  })
})
