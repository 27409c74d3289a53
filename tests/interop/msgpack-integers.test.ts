/**
 * docs/protocol.md §4.1, §9: MessagePack integers as other encoders write them. Python's
 * msgpack, Go, Rust and Java write integers of 2^32 and up as uint64 (0xcf) or int64 (0xd3),
 * and some write small values in those formats too; msgpackr never does. Every integer within
 * ±2^53 is an ordinary number wherever it appears, on the server and on the client; only
 * larger ones are refused (an id: close 4400; a payload: BAD_REQUEST).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectRaw, type RawClient } from '../conformance/support.js'
import { startRawServer, type RawServer } from '../client/raw-server.js'
import { createClient } from '@patchbay/client'
import WebSocket from 'ws'
import { Unpackr } from 'msgpackr'
import { Int, api, i32, i64, mp, startInteropServer, u32, u64, type InteropServer } from './support.js'
import { codec } from '../support/codecs.js'
import { toWire } from '../support/wire.js'

const TWO_53 = 2n ** 53n

let srv: InteropServer
const sockets: RawClient[] = []
beforeAll(async () => {
  srv = await startInteropServer()
})
afterAll(async () => {
  for (const socket of sockets) socket.ws.terminate()
  await srv.close()
})

async function open(): Promise<RawClient> {
  const client = await connectRaw(srv.url, 'msgpack')
  sockets.push(client)
  return client
}

/** Sends a message object as §3's array (tests/support/wire.ts), its integers in the formats given. */
function send(client: RawClient, message: unknown): void {
  client.sendRaw(mp(toWire(message)), true)
}

describe('§4.1 server: ids, credit and seq in any integer format', () => {
  it.each([
    ['uint32', u32(7), 7],
    ['int32', i32(8), 8],
    ['uint64, small', u64(9), 9],
    ['int64, small', i64(10), 10],
    ['uint64, 2^32', u64(2 ** 32), 2 ** 32],
    ['uint64, 2^53 - 1', u64(TWO_53 - 1n), Number.MAX_SAFE_INTEGER],
    ['int64, 2^40', i64(2 ** 40), 2 ** 40],
  ])('a call id written as %s is answered under that id', async (_name, id, expected) => {
    const client = await open()
    send(client, { t: 'call', id, path: 'math.add', input: { a: 1, b: 2 } })
    expect(await client.next()).toEqual({ t: 'result', id: expected, output: 3 })
    // cancel and a second call with the same id in the same format: the id is an ordinary number.
    send(client, { t: 'cancel', id })
    send(client, { t: 'call', id, path: 'math.add', input: { a: 2, b: 2 } })
    expect(await client.next()).toEqual({ t: 'result', id: expected, output: 4 })
  })

  it.each([
    ['uint8', new Int(0xcc, 1n)],
    ['uint64', u64(1)],
    ['int64', i64(1)],
    ['int8', new Int(0xd0, 1n)],
  ])('the tag written as %s is the tag (docs/protocol.md §3: element 0, an integer)', async (_name, tag) => {
    const client = await open()
    client.sendRaw(mp([tag, u64(3), 'math.add', null, { a: 1, b: 2 }]), true)
    expect(await client.next()).toEqual({ t: 'result', id: 3, output: 3 })
    client.sendRaw(mp([i64(5)]), true)
    expect(await client.next()).toEqual({ t: 'pong' })
  })

  it.each([
    ['uint64 2^53', u64(TWO_53)],
    ['uint64 2^64 - 1', u64(2n ** 64n - 1n)],
    ['int64 -1', i64(-1)],
  ])('an id written as %s (not a safe non-negative integer) closes 4400', async (_name, id) => {
    const client = await open()
    send(client, { t: 'call', id, path: 'math.add', input: { a: 1, b: 2 } })
    await client.expectClose(4400)
  })

  it('a stream with credit and ids in uint64/int64 flows; credit in uint64 is honoured', async () => {
    const client = await open()
    send(client, { t: 'stream', id: u64(2 ** 33), path: 'count', input: { to: new Int(0xcf, 5n) }, credit: i64(2) })
    expect(await client.take(2)).toEqual([
      { t: 'item', id: 2 ** 33, data: 1 },
      { t: 'item', id: 2 ** 33, data: 2 },
    ])
    send(client, { t: 'credit', id: i64(2 ** 33), n: u64(10) })
    expect(await client.take(4)).toEqual([
      { t: 'item', id: 2 ** 33, data: 3 },
      { t: 'item', id: 2 ** 33, data: 4 },
      { t: 'item', id: 2 ** 33, data: 5 },
      { t: 'result', id: 2 ** 33 },
    ])
  })

  it('a credit of 2^64 - 1 (beyond the safe range) closes 4400', async () => {
    const client = await open()
    send(client, { t: 'stream', id: 1, path: 'count', input: { to: 100 }, credit: 1 })
    expect(await client.next()).toEqual({ t: 'item', id: 1, data: 1 })
    send(client, { t: 'credit', id: 1, n: u64(2n ** 64n - 1n) })
    await client.expectClose(4400)
  })

  it('sub with resume.seq in uint64 resumes; pub, unsub and received take any format', async () => {
    const client = await open()
    send(client, { t: 'sub', id: u64(1), path: 'feed', params: { room: 'ints' } })
    const subscribed = (await client.next()) as { output: { ch: number; seq: number; epoch: string } }
    expect(subscribed).toMatchObject({ t: 'result', id: 1, output: { seq: 0 } })
    send(client, { t: 'pub', id: i64(2), path: 'feed', params: { room: 'ints' }, data: { n: u64(2 ** 40) } })
    const [event, published] = await client.take(2)
    expect(event).toEqual({ t: 'event', ch: subscribed.output.ch, seq: 1, data: { n: 2 ** 40 } })
    expect(published).toEqual({ t: 'result', id: 2, output: { delivered: 1 } })
    send(client, { t: 'unsub', id: u32(1) })
    // A second connection comes back from seq 0, written as uint64, and gets the replay.
    const again = await open()
    send(again, { t: 'sub', id: 3, path: 'feed', params: { room: 'ints' }, resume: { epoch: subscribed.output.epoch, seq: u64(0) } })
    expect(await again.take(2)).toEqual([
      { t: 'result', id: 3, output: { ch: subscribed.output.ch, seq: 0, epoch: subscribed.output.epoch } },
      { t: 'event', ch: subscribed.output.ch, seq: 1, data: { n: 2 ** 40 } },
    ])
    send(again, { t: 'stream', id: 4, path: 'count', input: { to: 1 }, credit: 2, received: u64(0) })
    expect(await again.take(2)).toEqual([
      { t: 'item', id: 4, data: 1 },
      { t: 'result', id: 4 },
    ])
  })
})

describe('§9 server: integers inside inputs', () => {
  it.each([
    ['uint32 2^32 - 1', u32(2 ** 32 - 1), 2 ** 32 - 1],
    ['uint64 2^32', u64(2 ** 32), 2 ** 32],
    ['uint64 2^53 - 1', u64(TWO_53 - 1n), Number.MAX_SAFE_INTEGER],
    ['int64 -(2^53 - 1)', i64(-(TWO_53 - 1n)), -Number.MAX_SAFE_INTEGER],
    ['int64 -5', i64(-5), -5],
    ['int32 -2^31', i32(-(2 ** 31)), -(2 ** 31)],
  ])('%s is an ordinary number to the schema and the handler', async (_name, a, expected) => {
    const client = await open()
    send(client, { t: 'call', id: 1, path: 'math.add', input: { a, b: 0 } })
    expect(await client.next()).toEqual({ t: 'result', id: 1, output: expected })
    send(client, { t: 'call', id: 2, path: 'echo', input: [a, { n: a }] })
    expect(await client.next()).toEqual({ t: 'result', id: 2, output: [expected, { n: expected }] })
  })

  it.each([
    ['uint64 2^53 + 1', u64(TWO_53 + 1n)],
    ['uint64 2^64 - 1', u64(2n ** 64n - 1n)],
    ['int64 -(2^53 + 1)', i64(-(TWO_53 + 1n))],
  ])('%s is refused with BAD_REQUEST for that id; the connection lives', async (_name, a) => {
    const client = await open()
    send(client, { t: 'call', id: 1, path: 'math.add', input: { a, b: 0 } })
    expect(await client.next()).toMatchObject({ t: 'error', id: 1, error: { code: 'BAD_REQUEST', message: expect.stringMatching(/bigint/) } })
    send(client, { t: 'call', id: 2, path: 'math.add', input: { a: 1, b: 1 } })
    expect(await client.next()).toEqual({ t: 'result', id: 2, output: 2 })
  })
})

describe('§4.1 what Patchbay writes', () => {
  it('integers up to 32 bits as integers, wider ones as integral float64, which its own client reads as numbers', async () => {
    const client = await open()
    srv.values.set(1, { ts: 1764500000000, neg: -(2 ** 40), edge: [2 ** 32, -(2 ** 31) - 1, 2 ** 32 - 1, -(2 ** 31)], f: 101.5 })
    expect(await client.call(7, 'give', { key: 1 })).toEqual({
      t: 'result',
      id: 7,
      output: { ts: 1764500000000, neg: -(2 ** 40), edge: [2 ** 32, -(2 ** 31) - 1, 2 ** 32 - 1, -(2 ** 31)], f: 101.5 },
    })
    const bytes = client.receivedBytes.at(-1) as Buffer
    // A reader that keeps 64-bit integers apart from floats (as Python, Go and Rust do) sees
    // integers up to 32 bits and floats beyond: §4.1 asks it to accept those where it expects integers.
    const strict = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint' })
    expect(strict.unpack(bytes)).toEqual([2, 7, { ts: 1764500000000, neg: -(2 ** 40), edge: [2 ** 32, -(2 ** 31) - 1, 2 ** 32 - 1, -(2 ** 31)], f: 101.5 }])
    expect(bytes.includes(Buffer.from('cb4279ad4654d00000', 'hex'))).toBe(true)
    expect(bytes.includes(Buffer.from('ceffffffff', 'hex'))).toBe(true)
  })
})

describe('§4.1 client: a server that writes uint64/int64', () => {
  let raw: RawServer
  beforeAll(async () => {
    raw = await startRawServer('msgpack')
  })
  afterAll(async () => {
    await raw.close()
  })

  it('results, events and items with ids, ch, seq and data in uint64/int64 reach the application as numbers', async () => {
    const client = createClient(api, { url: raw.url, WebSocket, encodings: [codec('msgpack')], reconnect: false })
    try {
      const socket = await raw.nextSocket()
      const call = client.echo({ x: 1 })
      const sent = await raw.nextMessage(socket)
      socket.send(mp(toWire({ t: 'result', id: u64(sent.id as number), output: { big: u64(2 ** 40), neg: i64(-(2 ** 35)), small: i64(3) } })))
      expect(await call).toEqual({ big: 2 ** 40, neg: -(2 ** 35), small: 3 })

      const heard: { message: unknown; seq: number }[] = []
      const off = client.feed.subscribe({ room: 'r' }, (message, meta) => heard.push({ message, seq: meta.seq }))
      const sub = await raw.nextMessage(socket)
      socket.send(mp(toWire({ t: 'result', id: i64(sub.id as number), output: { ch: u64(2 ** 34), seq: u64(0), epoch: 'e.1' } })))
      await off.ready
      socket.send(mp(toWire({ t: 'event', ch: u64(2 ** 34), seq: i64(1), data: u64(TWO_53 - 1n) })))

      const items = client.count({ to: 2 })
      const iterator = items[Symbol.asyncIterator]()
      const next = iterator.next()
      const started = await raw.nextMessage(socket)
      socket.send(mp(toWire({ t: 'item', id: u64(started.id as number), data: i64(-7) })))
      expect(await next).toEqual({ done: false, value: -7 })
      await iterator.return?.()
      expect(heard).toEqual([{ message: Number.MAX_SAFE_INTEGER, seq: 1 }])
      expect(client.state).toBe('open')
    } finally {
      await client.close()
    }
  })

  it('an output integer beyond 2^53 reaches the caller as the BigInt it decodes to (a payload is the application\'s, §9)', async () => {
    const client = createClient(api, { url: raw.url, WebSocket, encodings: [codec('msgpack')], reconnect: false })
    try {
      const socket = await raw.nextSocket()
      const call = client.echo(1)
      const sent = await raw.nextMessage(socket)
      socket.send(mp(toWire({ t: 'result', id: sent.id as number, output: u64(2n ** 60n) })))
      expect(await call).toBe(2n ** 60n)
      expect(client.state).toBe('open')
    } finally {
      await client.close()
    }
  })

  it('a result id beyond 2^53 closes 4400 (an id the client reads itself, §4.1)', async () => {
    const client = createClient(api, { url: raw.url, WebSocket, encodings: [codec('msgpack')], reconnect: false })
    try {
      const socket = await raw.nextSocket()
      const call = client.echo(1)
      await raw.nextMessage(socket)
      const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
      socket.send(mp(toWire({ t: 'result', id: u64(2n ** 60n), output: 1 })))
      expect(await closed).toBe(4400)
      await expect(call).rejects.toMatchObject({ code: 'CONNECTION_LOST' })
    } finally {
      await client.close()
    }
  })
})
