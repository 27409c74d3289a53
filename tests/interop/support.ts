/**
 * Shared support for the interop suites: a hand-written MessagePack writer that can put any
 * integer in any of the format's integer encodings (what Python, Go, Rust or Java encoders
 * write, and msgpackr never does), and a server whose handlers return, throw and publish
 * whatever value a test hands them, so every server → client path can carry any value.
 */
import { z } from 'zod'
import WebSocket from 'ws'
import { PatchbayError, procedure, router, stream, topic, type Encoding } from '@patchbay/core'
import { createServer, type PatchbayServer, type ServerOptions } from '@patchbay/server'
import { createClient, type Client } from '@patchbay/client'
import { codec } from '../support/codecs.js'

/** An integer written in one chosen MessagePack format. */
export class Int {
  constructor(
    readonly format: 0xcc | 0xcd | 0xce | 0xcf | 0xd0 | 0xd1 | 0xd2 | 0xd3,
    readonly value: bigint,
  ) {}
}
export const u32 = (value: number | bigint): Int => new Int(0xce, BigInt(value))
export const u64 = (value: number | bigint): Int => new Int(0xcf, BigInt(value))
export const i32 = (value: number | bigint): Int => new Int(0xd2, BigInt(value))
export const i64 = (value: number | bigint): Int => new Int(0xd3, BigInt(value))

/** Raw bytes spliced into a frame as they are (an invalid string, an odd map key). */
export class Raw {
  constructor(readonly bytes: number[]) {}
}

/** A map whose keys are any values, written in order (integer or binary keys). */
export class AnyKeyMap {
  constructor(readonly entries: [unknown, unknown][]) {}
}

const WIDTH: Record<Int['format'], number> = { 0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, 0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8 }

function intBytes(int: Int): number[] {
  const width = WIDTH[int.format]
  const bits = BigInt(width * 8)
  let value = BigInt.asUintN(Number(bits), int.value)
  const out: number[] = []
  for (let i = 0; i < width; i++) {
    out.unshift(Number(value & 0xffn))
    value >>= 8n
  }
  return [int.format, ...out]
}

function lengthHeader(length: number, fix: number, fixMax: number, x16: number, x32: number): number[] {
  if (length <= fixMax) return [fix | length]
  if (length < 0x10000) return [x16, length >> 8, length & 0xff]
  return [x32, (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff]
}

/** MessagePack bytes of `value`: small integers as fixints, others as the {@link Int} says. */
export function mp(value: unknown): Uint8Array {
  return Uint8Array.from(write(value))
}

function write(value: unknown): number[] {
  if (value instanceof Int) return intBytes(value)
  if (value instanceof Raw) return value.bytes
  if (value === null || value === undefined) return [0xc0]
  if (value === true) return [0xc3]
  if (value === false) return [0xc2]
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value < 128) return [value]
    if (Number.isInteger(value) && value < 0 && value >= -32) return [0x100 + value]
    const bytes = new Uint8Array(9)
    bytes[0] = 0xcb
    new DataView(bytes.buffer).setFloat64(1, value)
    return [...bytes]
  }
  if (typeof value === 'string') {
    const bytes = [...Buffer.from(value, 'utf8')]
    return [...(bytes.length < 32 ? [0xa0 | bytes.length] : lengthHeader(bytes.length, 0, -1, 0xda, 0xdb)), ...bytes]
  }
  if (value instanceof Uint8Array) return [0xc4, value.length, ...value]
  if (Array.isArray(value)) return [...lengthHeader(value.length, 0x90, 15, 0xdc, 0xdd), ...value.flatMap(write)]
  const entries = value instanceof AnyKeyMap ? value.entries : Object.entries(value as object)
  return [...lengthHeader(entries.length, 0x80, 15, 0xde, 0xdf), ...entries.flatMap(([key, item]) => [...write(key), ...write(item)])]
}

const Anything = z.unknown()

export const api = router({
  math: { add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }) },
  /** Returns its input as it reached the handler. */
  echo: procedure({ input: Anything, output: Anything }),
  /** Returns the value registered under `key`. */
  give: procedure({ input: z.object({ key: z.number() }), output: Anything }),
  /** Throws a PatchbayError whose data is the value registered under `key`. */
  fail: procedure({ input: z.object({ key: z.number() }), output: z.null() }),
  /** Yields the value registered under `key`, then `'after'`. */
  items: stream({ input: z.object({ key: z.number() }), output: Anything }),
  /** Yields 1..to. */
  count: stream({ input: z.object({ to: z.number().int() }), output: z.number() }),
  feed: topic({ params: z.object({ room: z.string() }), message: Anything, publish: 'client' }),
  /** A topic whose schema turns what the client publishes into a Date. */
  dated: topic({ message: z.number().transform((ms) => new Date(ms)), publish: 'client' }),
})

export interface InteropServer {
  server: PatchbayServer
  url: string
  /** Values handlers return, throw or yield, by key. */
  values: Map<number, unknown>
  client(encoding: Encoding): Client<typeof api>
  close(): Promise<void>
}

export async function startInteropServer(options: Pick<ServerOptions<typeof api, unknown>, 'rateLimit'> = {}): Promise<InteropServer> {
  const values = new Map<number, unknown>()
  const server = createServer(api, {
    ...options,
    // The property tests hand the server values it must refuse (a Date result, an item that
    // fails its schema) hundreds of times on purpose: each would be logged as an error.
    logger: false,
    topics: { feed: { history: 10 } },
    handlers: {
      math: { add: ({ input }) => input.a + input.b },
      echo: ({ input }) => input,
      give: ({ input }) => values.get(input.key),
      fail: ({ input }) => {
        throw new PatchbayError('GIVEN', 'a given error', { data: values.get(input.key) })
      },
      async *items({ input }) {
        yield values.get(input.key)
        yield 'after'
      },
      async *count({ input }) {
        for (let n = 1; n <= input.to; n++) yield n
      },
    },
  })
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
  const url = `ws://127.0.0.1:${port}`
  const clients: Client<typeof api>[] = []
  return {
    server,
    url,
    values,
    client: (encoding) => {
      const client = createClient(api, { url, WebSocket, encodings: [codec(encoding)], reconnect: false })
      clients.push(client)
      return client
    },
    close: async () => {
      await Promise.all(clients.map((client) => client.close()))
      await server.close()
    },
  }
}
