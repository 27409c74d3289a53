/**
 * A hostile server's payloads (docs/protocol.md §9, "The other direction"). The client checks
 * every field it reads itself and hands payloads (an event's `data`, a result's `output`, an
 * item's `data`) to the application as its codec decoded them, with one exception: a JSON
 * `__proto__` key, which JSON.parse makes an own property that a merge would take as a
 * prototype, closes the connection with 4400 and reaches nobody. Values of another kind
 * (msgpackr's extensions, Infinity, deep nesting) are the application's data, as a value of
 * the wrong shape would be: delivered, with the connection, its order and its gap detection
 * intact. The frames are written by hand, as a server that is not Patchbay's could write them
 * (Patchbay's server sends none of these, §6).
 */
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { Packr } from 'msgpackr'
import { z } from 'zod'
import { CloseCode, router, procedure, stream, topic, type Encoding } from '@patchbay/core'
import { createClient, type Client } from '@patchbay/client'
import { startRawServer, type RawServer } from './raw-server.js'
import { codec } from '../support/codecs.js'
import { toWire } from '../support/wire.js'

const api = router({
  feed: topic({ message: z.unknown() }),
  echo: procedure({ output: z.unknown() }),
  numbers: stream({ output: z.unknown() }),
})

/** A MessagePack writer that keeps msgpackr's extensions (Date, Set, RegExp…) on the wire. */
const hostilePackr = new Packr({ useRecords: false, moreTypes: true })

/** Nesting `depth` arrays deep around 1. */
function nested(depth: number): unknown {
  let value: unknown = 1
  for (let i = 0; i < depth; i++) value = [value]
  return value
}

/**
 * A payload a hostile server sends, as the frame of a whole message whose payload field is
 * filled in by `frame(message)`: JSON text written by hand (JSON.stringify cannot write
 * 1e999 or an own `__proto__` key), or msgpackr with its extensions. Either way the message
 * goes out as its §3 array.
 */
interface Hostile {
  name: string
  encoding: Encoding
  frame: (message: Record<string, unknown>, field: string) => string | Uint8Array
}

const PAYLOAD = '"__PAYLOAD__"'
function jsonWith(raw: string): Hostile['frame'] {
  return (message, field) => JSON.stringify(toWire({ ...message, [field]: '__PAYLOAD__' })).replace(PAYLOAD, raw)
}
function msgpackWith(value: () => unknown): Hostile['frame'] {
  return (message, field) => hostilePackr.pack(toWire({ ...message, [field]: value() }))
}

/** Payloads that close the connection: a key JSON.parse makes an own `__proto__`. */
const refused: Hostile[] = [
  { name: 'an own __proto__ key', encoding: 'json', frame: jsonWith('{"a":[{"__proto__":{"polluted":true}}]}') },
  { name: 'a __proto__ key spelled with \\u escapes', encoding: 'json', frame: jsonWith('{"\\u005f_pro\\u0074o__":{"polluted":true}}') },
]

/** Payloads handed over as decoded, and what the listener finds in them. */
const delivered: (Hostile & { check: (value: unknown) => void })[] = [
  { name: 'a number past the float range (1e999 reads as Infinity)', encoding: 'json', frame: jsonWith('{"n":1e999}'), check: (value) => expect(value).toEqual({ n: Infinity }) },
  { name: 'nesting past maxDepth', encoding: 'json', frame: jsonWith(JSON.stringify(nested(70))), check: (value) => expect(value).toEqual(nested(70)) },
  { name: 'a __proto__-like key that is not one', encoding: 'json', frame: jsonWith('{"__proto_":1,"text":"__proto__ in a string"}'), check: (value) => expect(value).toEqual({ __proto_: 1, text: '__proto__ in a string' }) },
  { name: 'a Date (timestamp extension)', encoding: 'msgpack', frame: msgpackWith(() => ({ at: new Date(0) })), check: (value) => expect(value).toEqual({ at: new Date(0) }) },
  { name: 'a Set (extension)', encoding: 'msgpack', frame: msgpackWith(() => ({ tags: new Set(['a']) })), check: (value) => expect(value).toEqual({ tags: new Set(['a']) }) },
  { name: 'an integer past 2^53 (a BigInt)', encoding: 'msgpack', frame: msgpackWith(() => ({ n: 2n ** 60n })), check: (value) => expect(value).toEqual({ n: 2n ** 60n }) },
  {
    // msgpackr reads the key as `__proto_`: an ordinary key, no prototype.
    name: 'a __proto__ key',
    encoding: 'msgpack',
    frame: msgpackWith(() => JSON.parse('{"__proto__":{"polluted":true}}')),
    check: (value) => {
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
      expect(value).toEqual({ __proto_: { polluted: true } })
    },
  },
]

let server: RawServer | undefined
const clients: Client<typeof api>[] = []
afterEach(async () => {
  await server?.close()
  server = undefined
  await Promise.all(clients.splice(0).map((client) => client.close()))
})

async function connected(encoding: Encoding): Promise<{ client: Client<typeof api>; socket: import('ws').WebSocket; closed: Promise<number> }> {
  server = await startRawServer(encoding)
  const client = createClient(api, { url: server.url, WebSocket, encodings: [codec(encoding)], reconnect: false })
  clients.push(client)
  await client.connect()
  const socket = await server.nextSocket()
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
  return { client, socket, closed }
}

/** A client subscribed to channel 3 of a raw server; `seen` collects what the listener got. */
async function subscribed(encoding: Encoding): Promise<{ client: Client<typeof api>; socket: import('ws').WebSocket; closed: Promise<number>; seen: unknown[]; lags: unknown[] }> {
  server = await startRawServer(encoding)
  const client = createClient(api, { url: server.url, WebSocket, encodings: [codec(encoding)], reconnect: false })
  clients.push(client)
  const seen: unknown[] = []
  const lags: unknown[] = []
  const off = client.feed.subscribe((message) => seen.push(message), { onLag: (lag) => lags.push(lag) })
  const socket = await server.nextSocket()
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
  const sub = await server.nextMessage(socket)
  server.send(socket, { t: 'result', id: sub.id, output: { ch: 3, seq: 0, epoch: 'e.1' } })
  await off.ready
  return { client, socket, closed, seen, lags }
}

describe.each(refused)('a payload over $encoding with $name', ({ encoding, frame }) => {
  it('in an event closes 4400 and reaches no listener, nor do the events after it', async () => {
    const { client, socket, closed, seen } = await subscribed(encoding)
    server!.send(socket, { t: 'event', ch: 3, seq: 1, data: 'fine' })
    socket.send(frame({ t: 'event', ch: 3, seq: 2 }, 'data'))
    server!.send(socket, { t: 'event', ch: 3, seq: 3, data: 'after' })
    expect(await closed).toBe(CloseCode.BAD_REQUEST)
    await expect.poll(() => client.state).toBe('closed')
    expect(seen).toEqual(['fine'])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('in a result closes 4400 and the call fails', async () => {
    const { client, socket, closed } = await connected(encoding)
    const call = client.echo()
    const sent = await server!.nextMessage(socket)
    socket.send(frame({ t: 'result', id: sent.id }, 'output'))
    expect(await closed).toBe(CloseCode.BAD_REQUEST)
    await expect(call).rejects.toThrow()
  })

  it('in a stream item closes 4400 and the stream fails', async () => {
    const { client, socket, closed } = await connected(encoding)
    const numbers = client.numbers(undefined, { credit: 2 })
    const next = numbers.next()
    const start = await server!.nextMessage(socket)
    socket.send(frame({ t: 'item', id: start.id }, 'data'))
    expect(await closed).toBe(CloseCode.BAD_REQUEST)
    await expect(next).rejects.toThrow()
  })
})

describe.each(delivered)('a payload over $encoding with $name', ({ encoding, frame, check }) => {
  it('in an event is delivered as decoded; order and gap detection go on', async () => {
    const { client, socket, seen, lags } = await subscribed(encoding)
    server!.send(socket, { t: 'event', ch: 3, seq: 1, data: 'before' })
    socket.send(frame({ t: 'event', ch: 3, seq: 2 }, 'data'))
    // A gap after it is still counted (§12, §14): seq 3 never comes.
    server!.send(socket, { t: 'event', ch: 3, seq: 4, data: 'after' })
    await expect.poll(() => seen.length).toBe(3)
    expect(seen[0]).toBe('before')
    check(seen[1])
    expect(seen[2]).toBe('after')
    expect(lags).toEqual([{ missed: 1, seq: 3 }])
    expect(client.state).toBe('open')
  })

  it('in a result resolves the call with it', async () => {
    const { client, socket } = await connected(encoding)
    const call = client.echo()
    const sent = await server!.nextMessage(socket)
    socket.send(frame({ t: 'result', id: sent.id }, 'output'))
    check(await call)
    expect(client.state).toBe('open')
  })
})
