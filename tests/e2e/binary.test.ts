/**
 * Bytes under patchbay.v1.msgpack (docs/protocol.md §9, "bytes": `bin`, read as a
 * `Uint8Array`): a `Uint8Array` sent through a call, a topic event and a stream arrives as a
 * `Uint8Array` with the same bytes, in both directions, and on the wire it is MessagePack
 * `bin` holding the bytes as they are: not a string, not base64, not an array of numbers.
 * Sizes cover msgpackr's `bin 8`, `bin 16` and `bin 32`, a frame small enough for the
 * codec's scratch buffer (codec-msgpack.ts), and one past the server's 64 KiB frame merge
 * (adapters/frames.ts).
 */
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { Packr, Unpackr } from 'msgpackr'
import { procedure, router, stream, topic } from '@patchbay/core'
import { createServer, type PatchbayServer } from '@patchbay/server'
import { createClient, type Client } from '@patchbay/client'
import { closeAfterEach } from '../support/teardown.js'
import { codec } from '../support/codecs.js'
import { fromWire, toWire } from '../support/wire.js'

const Bytes = z.instanceof(Uint8Array)
const api = router({
  echo: procedure({ input: Bytes, output: Bytes }),
  blobs: topic({ params: z.object({ room: z.string() }), message: Bytes, publish: 'client' }),
  chunks: stream({ input: Bytes, output: Bytes }),
})

/** Bytes every value of which appears, with `d4 00 00` (msgpackr's `undefined`) inside once
 * it is long enough: the encoder's second pass for a frame that may hold one (§9) must
 * write `bin` too. */
function bytes(length: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff
  if (length >= 16) out.set([0xd4, 0x00, 0x00], 8)
  return out
}

// bin 8 (0, 200), bin 16 (3,000 fits the scratch buffer; 40,000 does not), bin 32 (70,000,
// also past the 64 KiB frame merge).
const SIZES = [0, 200, 3_000, 40_000, 70_000]

/** The MessagePack `bin` header for `length` bytes. */
function binHeader(length: number): Buffer {
  if (length < 0x100) return Buffer.from([0xc4, length])
  if (length < 0x10000) return Buffer.from([0xc5, length >> 8, length & 0xff])
  const header = Buffer.alloc(5)
  header[0] = 0xc6
  header.writeUInt32BE(length, 1)
  return header
}

/** The frame holds the payload as `bin`: its header, then the bytes as they are. */
function expectBin(frame: Buffer, payload: Uint8Array): void {
  expect(frame.indexOf(Buffer.concat([binHeader(payload.length), payload]))).toBeGreaterThan(-1)
}

function expectSameBytes(got: unknown, sent: Uint8Array): void {
  expect(got).toBeInstanceOf(Uint8Array)
  expect(Buffer.from(got as Uint8Array).equals(Buffer.from(sent))).toBe(true)
}

let server: PatchbayServer
/** What the handlers received, for the client-to-server direction. */
let received: unknown[] = []
const clients = closeAfterEach<{ close(): unknown }>(async () => {
  await server?.close()
  received = []
})

async function start(): Promise<string> {
  server = createServer(api, {
    encodings: ['msgpack'],
    handlers: {
      echo: ({ input }) => {
        received.push(input)
        return input
      },
      async *chunks({ input }) {
        received.push(input)
        // Each item a new view on the input's bytes: the way back goes through the stream.
        yield input
        yield input.subarray(0, input.length >> 1)
      },
    },
    topics: {
      blobs: {
        authorizePublish: ({ data }) => {
          received.push(data)
          return true
        },
      },
    },
  })
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
  return `ws://127.0.0.1:${port}`
}

function client(url: string): Client<typeof api> {
  const c = createClient(api, { url, WebSocket, encodings: [codec('msgpack')] })
  clients.push(c)
  return c
}

describe('bytes through the client (docs/protocol.md §9)', () => {
  it('a call carries a Uint8Array both ways, byte for byte', async () => {
    const c = client(await start())
    for (const [i, size] of SIZES.entries()) {
      const payload = bytes(size, i)
      const output = await c.echo(payload)
      expectSameBytes(received[i], payload)
      expectSameBytes(output, payload)
    }
  })

  it('a topic event carries a Uint8Array from the publishing client and from the server', async () => {
    const url = await start()
    const subscriber = client(url)
    const publisher = client(url)
    const events: unknown[] = []
    let arrived: () => void = () => {}
    const sub = subscriber.blobs.subscribe({ room: 'a' }, (data) => {
      events.push(data)
      arrived()
    })
    await sub.ready
    for (const [i, size] of SIZES.entries()) {
      const fromClient = bytes(size, 10 + i)
      const fromServer = bytes(size, 20 + i)
      const both = new Promise<void>((resolve) => (arrived = () => events.length === 2 * (i + 1) && resolve()))
      await publisher.blobs.publish({ room: 'a' }, fromClient)
      await server.publish(api.blobs, { room: 'a' }, fromServer)
      await both
      expectSameBytes(received[i], fromClient)
      expectSameBytes(events[2 * i], fromClient)
      expectSameBytes(events[2 * i + 1], fromServer)
    }
  })

  it('a stream takes a Uint8Array as input and yields Uint8Array items', async () => {
    const c = client(await start())
    for (const [i, size] of SIZES.entries()) {
      const payload = bytes(size, 30 + i)
      const items: unknown[] = []
      for await (const item of c.chunks(payload)) items.push(item)
      expectSameBytes(received[i], payload)
      expect(items).toHaveLength(2)
      expectSameBytes(items[0], payload)
      expectSameBytes(items[1], payload.subarray(0, size >> 1))
    }
  })
})

describe('bytes on the wire (docs/protocol.md §9)', () => {
  const packr = new Packr({ useRecords: false, moreTypes: false })
  const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true })

  /** A bare ws socket speaking patchbay.v1.msgpack (§3's arrays); each frame it gets, as sent. */
  async function rawSocket(url: string): Promise<{ send(message: unknown): void; next(match: (m: Record<string, unknown>) => boolean): Promise<Buffer> }> {
    const ws = new WebSocket(url, 'patchbay.v1.msgpack')
    clients.push({ close: () => ws.terminate() })
    const frames: { frame: Buffer; binary: boolean }[] = []
    let wake: () => void = () => {}
    ws.on('message', (data: Buffer, binary: boolean) => {
      frames.push({ frame: data, binary })
      wake()
    })
    await new Promise((resolve, reject) => {
      ws.once('open', resolve)
      ws.once('error', reject)
    })
    return {
      send: (message) => ws.send(packr.pack(toWire(message))),
      async next(match) {
        for (;;) {
          const at = frames.findIndex(({ frame }) => match(fromWire(unpackr.unpack(frame)) as Record<string, unknown>))
          if (at !== -1) {
            const [{ frame, binary }] = frames.splice(at, 1) as [{ frame: Buffer; binary: boolean }]
            expect(binary).toBe(true)
            return frame
          }
          await new Promise<void>((resolve) => (wake = resolve))
        }
      },
    }
  }

  it('result, event and item frames hold the bytes as bin, and bin sent in is read as a Uint8Array', async () => {
    const url = await start()
    const raw = await rawSocket(url)
    raw.send({ t: 'sub', id: 1, path: 'blobs', params: { room: 'w' } })
    await raw.next((m) => m.t === 'result' && m.id === 1)
    let id = 2
    for (const [i, size] of SIZES.entries()) {
      const payload = bytes(size, 40 + i)
      // Written by msgpackr from a Buffer: bin on the way in as well.
      const sent = Buffer.from(payload)

      const callId = id++
      raw.send({ t: 'call', id: callId, path: 'echo', input: sent })
      const result = await raw.next((m) => m.t === 'result' && m.id === callId)
      expectBin(result, payload)

      const pubId = id++
      raw.send({ t: 'pub', id: pubId, path: 'blobs', params: { room: 'w' }, data: sent })
      expectBin(await raw.next((m) => m.t === 'event'), payload)
      await raw.next((m) => m.t === 'result' && m.id === pubId)

      const streamId = id++
      raw.send({ t: 'stream', id: streamId, path: 'chunks', input: sent, credit: 4 })
      expectBin(await raw.next((m) => m.t === 'item' && m.id === streamId), payload)

      for (const got of received.splice(0)) expectSameBytes(got, payload)
    }
  })
})
