/**
 * Topic events framed once per publish (packages/server/src/adapters/frames.ts): the server
 * builds each event's WebSocket frame once and writes the same bytes to every subscriber's
 * socket. A client of our own on a bare TCP socket checks every frame bit by bit (RFC 6455
 * §5.2: FIN, no RSV, the codec's opcode, unmasked, the shortest length encoding) and its
 * payload (docs/protocol.md §3, §12: the array `[10, ch, seq, data]`, seqs in order); and the
 * server's own sockets show that outbound flow control (§14) still bounds what it holds.
 */
import { randomBytes } from 'node:crypto'
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { connect, Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { router, topic, type Codec, type Encoding } from '@patchbay/core'
import { serverCodec } from '../support/codecs.js'
import { fromWire, TAG, toWire } from '../support/wire.js'
import { createServer, type PatchbayServer, type ServerOptions } from '@patchbay/server'

const api = router({
  feed: {
    queue: topic({ message: z.object({ s: z.string() }) }),
    drop: topic({ message: z.object({ s: z.string() }), backpressure: 'drop' }),
  },
})
type FeedPath = 'feed.queue' | 'feed.drop'

const KiB = 1024
const OPCODE: Readonly<Record<Encoding, number>> = { json: 0x1, msgpack: 0x2 }

let server: PatchbayServer | undefined
let http: HttpServer | undefined
const sockets: Socket[] = []
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy()
  await server?.close()
  server = undefined
  if (http !== undefined) await new Promise((resolve) => http?.close(resolve))
  http = undefined
})

/**
 * A server on its own HTTP server (attach), so the test can see the net.Socket of each
 * upgrade: the socket ws writes frames to, whose `writableLength` is what the server holds.
 */
async function start(options: Partial<ServerOptions<typeof api, undefined>> = {}): Promise<{ port: number; serverSockets: Socket[] }> {
  server = createServer(api, { closeTimeout: 1_000, ...options, handlers: {} })
  const serverSockets: Socket[] = []
  http = createHttpServer()
  http.on('upgrade', (_request, socket) => serverSockets.push(socket as Socket))
  server.attach(http)
  const listening = http
  await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve))
  const address = listening.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { port: address.port, serverSockets }
}

interface Frame {
  readonly opcode: number
  readonly payload: Buffer
}

/** One subscriber on a bare TCP socket: its own handshake, masked frames out, every frame in checked. */
interface RawSubscriber {
  readonly socket: Socket
  readonly encoding: Encoding
  ch: number
  /** Decoded events (from their §3 arrays), in order. */
  readonly events: { ch: number; seq: number; data: { s: string } }[]
  /** Payload length of every data frame received. */
  readonly lengths: number[]
  /** Messages other than events (results, lags). */
  readonly others: Record<string, unknown>[]
  /** The first malformed frame, described. */
  fault: string | undefined
  /** Events received or reported missed in lag notices. */
  covered: number
  /** Resolves once `count` events have arrived or been reported missed. */
  until(count: number): Promise<void>
}

/** Checks one server frame's header as RFC 6455 §5.2 requires of an unfragmented server frame. */
function parseFrame(buffer: Buffer, expectedOpcode: number): { frame: Frame; size: number } | { fault: string } | undefined {
  if (buffer.length < 2) return undefined
  const b0 = buffer[0] as number
  const b1 = buffer[1] as number
  if ((b0 & 0x80) === 0) return { fault: 'FIN not set (a fragmented message)' }
  if ((b0 & 0x70) !== 0) return { fault: `RSV bits set: ${b0 & 0x70}` }
  if ((b1 & 0x80) !== 0) return { fault: 'a server frame is masked' }
  const opcode = b0 & 0x0f
  let length = b1 & 0x7f
  let offset = 2
  if (length === 126) {
    if (buffer.length < 4) return undefined
    length = buffer.readUInt16BE(2)
    offset = 4
    if (length < 126) return { fault: `length ${length} in 16 bits` }
  } else if (length === 127) {
    if (buffer.length < 10) return undefined
    const high = buffer.readUInt32BE(2)
    if (high >= 0x80000000) return { fault: '64-bit length with its top bit set' }
    length = high * 2 ** 32 + buffer.readUInt32BE(6)
    offset = 10
    if (length < 65_536) return { fault: `length ${length} in 64 bits` }
  }
  if (opcode !== expectedOpcode && opcode !== 0x9) return { fault: `opcode ${opcode}, expected ${expectedOpcode}` }
  if (buffer.length < offset + length) return undefined
  return { frame: { opcode, payload: buffer.subarray(offset, offset + length) }, size: offset + length }
}

/** A masked client frame (RFC 6455 §5.3). */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4)
  const header = payload.length < 126 ? Buffer.from([0x80 | opcode, 0x80 | payload.length]) : Buffer.from([0x80 | opcode, 0x80 | 126, payload.length >> 8, payload.length & 0xff])
  const masked = Buffer.from(payload)
  for (let i = 0; i < masked.length; i++) masked[i] = (masked[i] as number) ^ (mask[i % 4] as number)
  return Buffer.concat([header, mask, masked])
}

async function rawSubscriber(port: number, encoding: Encoding, path: FeedPath): Promise<RawSubscriber> {
  const codec: Codec = serverCodec(encoding)
  const socket = connect(port, '127.0.0.1')
  sockets.push(socket)
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  socket.write(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
      `Sec-WebSocket-Protocol: patchbay.v1.${encoding}\r\n\r\n`,
  )
  let buffer: Buffer = Buffer.alloc(0)
  let upgraded = false
  const waiters: { count: number; resolve: () => void }[] = []
  let confirmed!: () => void
  const subscribedP = new Promise<void>((resolve) => (confirmed = resolve))
  const sub: RawSubscriber = {
    socket,
    encoding,
    ch: 0,
    events: [],
    lengths: [],
    others: [],
    fault: undefined,
    covered: 0,
    until(count) {
      if (sub.covered >= count) return Promise.resolve()
      return new Promise((resolve) => waiters.push({ count, resolve }))
    },
  }
  const onFrame = (frame: Frame): void => {
    if (frame.opcode === 0x9) return // a heartbeat ping
    sub.lengths.push(frame.payload.length)
    const message = fromWire(codec.decode(encoding === 'json' ? frame.payload.toString('utf8') : new Uint8Array(frame.payload))) as Record<string, unknown>
    if (message.t === 'event') sub.events.push(message as unknown as RawSubscriber['events'][number])
    else sub.others.push(message)
    if (message.t === 'event' || message.t === 'lag') {
      sub.covered += message.t === 'event' ? 1 : (message.missed as number)
      for (const waiter of waiters.filter((w) => sub.covered >= w.count)) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve()
      }
      return
    }
    if (message.t === 'result' && message.id === 1) {
      sub.ch = (message.output as { ch: number }).ch
      confirmed()
    }
  }
  socket.on('data', (chunk: Buffer) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
    if (!upgraded) {
      const end = buffer.indexOf('\r\n\r\n')
      if (end === -1) return
      const head = buffer.subarray(0, end).toString('latin1')
      if (!head.startsWith('HTTP/1.1 101')) throw new Error(`upgrade refused: ${head}`)
      upgraded = true
      buffer = buffer.subarray(end + 4)
      socket.write(clientFrame(OPCODE[encoding], Buffer.from(codec.encode(toWire({ t: 'sub', id: 1, path })))))
    }
    for (;;) {
      const parsed = parseFrame(buffer, OPCODE[encoding])
      if (parsed === undefined) return
      if ('fault' in parsed) {
        sub.fault ??= parsed.fault
        socket.destroy()
        // The test's assertions name the fault rather than a timeout.
        for (const waiter of waiters.splice(0)) waiter.resolve()
        return
      }
      buffer = buffer.subarray(parsed.size)
      onFrame(parsed.frame)
    }
  })
  await subscribedP
  return sub
}

/**
 * An `s` whose event frame of `seq` on channel `ch` has exactly `target` payload bytes under
 * `encoding` (msgpack's string header grows at 32, 256 and 65536 bytes: search around). The
 * frame is §3's array written out, so a received length equal to the target also says the
 * server sent exactly that array, no element more.
 */
function padFor(encoding: Encoding, ch: number, seq: number, target: number): string {
  const codec = serverCodec(encoding)
  const size = (s: string): number => {
    const frame = codec.encode([TAG.event, ch, seq, { s }])
    return typeof frame === 'string' ? Buffer.byteLength(frame) : frame.byteLength
  }
  const base = size('')
  for (let n = Math.max(0, target - base - 8); n <= target - base; n++) if (size('x'.repeat(n)) === target) return 'x'.repeat(n)
  throw new Error(`no ${encoding} event of ${target} bytes`)
}

/** Payload lengths around each length encoding's bounds (RFC 6455 §5.2), and past the size the server copies behind a header. */
const TARGETS = [60, 125, 126, 127, 1_000, 65_535, 65_536, 65_537, 70_000, 200_000]

describe('events framed once per publish', () => {
  it('gives every subscriber, JSON and msgpack interleaved, exact frames across the 125/126/65535/65536 length bounds', async () => {
    const { port } = await start()
    const subscribers: RawSubscriber[] = []
    // Alternating encodings: one publish goes to both kinds of frame in turn.
    for (let i = 0; i < 24; i++) subscribers.push(await rawSubscriber(port, i % 2 === 0 ? 'json' : 'msgpack', 'feed.queue'))
    const ch = subscribers[0]?.ch ?? 0
    expect(subscribers.every((sub) => sub.ch === ch)).toBe(true)
    const sent: string[] = []
    let seq = 0
    // Each target once for JSON's frames and once for msgpack's (one publish has one size per encoding).
    for (const encoding of ['json', 'msgpack'] as const) {
      for (const target of TARGETS) {
        const s = padFor(encoding, ch, ++seq, target)
        sent.push(s)
        server?.publish(api.feed.queue, undefined, { s })
      }
    }
    await Promise.all(subscribers.map((sub) => sub.until(sent.length)))
    for (const sub of subscribers) {
      expect(sub.fault).toBeUndefined()
      expect(sub.events.map((event) => event.seq)).toEqual(sent.map((_, i) => i + 1))
      expect(sub.events.every((event) => event.ch === ch)).toBe(true)
      expect(sub.events.map((event) => event.data.s)).toEqual(sent)
      // The targets of its own encoding came out at exactly their sizes.
      const own = sub.encoding === 'json' ? sub.lengths.slice(1, 1 + TARGETS.length) : sub.lengths.slice(1 + TARGETS.length)
      expect(own).toEqual(TARGETS)
    }
  })

  it('sends frames that stay exact when the events of one tick interleave with lag notices (drop policy)', async () => {
    const { port } = await start({ topics: { feed: { drop: { highWaterMark: 1 } } } })
    const subscribers: RawSubscriber[] = []
    for (let i = 0; i < 10; i++) subscribers.push(await rawSubscriber(port, i % 2 === 0 ? 'msgpack' : 'json', 'feed.drop'))
    // One burst: most events find their connection above its 1-byte mark and are dropped,
    // then counted in lag notices (encoded per connection, not framed once) between events.
    for (let n = 0; n < 200; n++) server?.publish(api.feed.drop, undefined, { s: `m${n}` })
    await Promise.all(subscribers.map((sub) => sub.until(200)))
    for (const sub of subscribers) {
      expect(sub.fault).toBeUndefined()
      const seqs = sub.events.map((event) => event.seq)
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
      for (const event of sub.events) expect(event.data.s).toBe(`m${event.seq - 1}`)
    }
  })
})

describe('outbound accounting with pre-framed events (docs/protocol.md §14)', () => {
  it('counts every pre-framed write as done: a reader that keeps up is never congested, however many events', async () => {
    // 600 events against a 32 KiB mark: a frame counted and never let go (512 bytes each)
    // would pass the mark after 64 and drop everything after.
    const { port } = await start({ topics: { feed: { drop: { highWaterMark: 32 * KiB } } } })
    const reader = await rawSubscriber(port, 'json', 'feed.drop')
    const other = await rawSubscriber(port, 'msgpack', 'feed.drop')
    for (let batch = 0; batch < 30; batch++) {
      for (let n = 0; n < 20; n++) server?.publish(api.feed.drop, undefined, { s: 'y'.repeat(100) })
      await Promise.all([reader.until((batch + 1) * 20), other.until((batch + 1) * 20)])
    }
    expect(server?.stats.dropped).toBe(0)
    expect(reader.events.map((event) => event.seq)).toEqual(Array.from({ length: 600 }, (_, i) => i + 1))
    expect(other.events).toHaveLength(600)
    expect(reader.fault ?? other.fault).toBeUndefined()
  })

  it('holds no more than the high-water mark plus one frame for a reader that stopped (drop policy)', async () => {
    const mark = 64 * KiB
    const { port, serverSockets } = await start({ topics: { feed: { drop: { highWaterMark: mark } } } })
    const stalled = await rawSubscriber(port, 'msgpack', 'feed.drop')
    const fast = await rawSubscriber(port, 'json', 'feed.drop')
    stalled.socket.pause()
    const held = serverSockets.find((socket) => socket.remotePort === stalled.socket.localPort)
    expect(held).toBeDefined()
    const body = 'z'.repeat(4 * KiB)
    let most = 0
    // ~16 MB: far past what the kernel's loopback buffers take before the server holds any.
    for (let n = 1; n <= 4_000; n++) {
      server?.publish(api.feed.drop, undefined, { s: body })
      most = Math.max(most, held?.writableLength ?? 0)
      if (n % 20 === 0) {
        await fast.until(n)
        most = Math.max(most, held?.writableLength ?? 0)
      }
    }
    expect(server?.stats.dropped).toBeGreaterThan(0)
    expect(most).toBeGreaterThan(0)
    expect(most).toBeLessThan(mark + body.length + 64)
    expect(fast.covered).toBe(4_000)
  })

  it('closes a reader that stopped with 4507 before its queue passes maxBuffered (queue policy)', async () => {
    const maxBuffered = 256 * KiB
    const { port, serverSockets } = await start({ backpressure: { highWaterMark: 64 * KiB, maxBuffered } })
    const stalled = await rawSubscriber(port, 'json', 'feed.queue')
    const fast = await rawSubscriber(port, 'msgpack', 'feed.queue')
    stalled.socket.pause()
    const held = serverSockets.find((socket) => socket.remotePort === stalled.socket.localPort)
    const body = 'q'.repeat(4 * KiB)
    let most = 0
    for (let n = 1; n <= 4_000 && server?.stats.slowConsumers === 0; n++) {
      server.publish(api.feed.queue, undefined, { s: body })
      most = Math.max(most, held?.writableLength ?? 0)
      if (n % 20 === 0) await fast.until(n)
    }
    expect(server?.stats.slowConsumers).toBe(1)
    expect(most).toBeLessThanOrEqual(maxBuffered)
    expect(fast.fault).toBeUndefined()
  })
})
