/**
 * §2.2 Frames on the wire: fragmented messages, control frames between fragments, the
 * limits `ws` applies to them, extensions (permessage-deflate) and malformed framing, with
 * a bare `net` socket against a real server, both encodings.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { procedure, router, type Encoding } from '@patchbay/core'
import { createServer, type PatchbayServer } from '@patchbay/server'
import { fromWire } from '../support/wire.js'
import { ENCODINGS, PROTOCOL, encode } from './support.js'
import { FrameSocket, Opcode, frame, upgradeRaw, upgradeRequest, type ServerFrame } from './raw-socket.js'
import { Packr } from 'msgpackr'

const api = router({ echo: procedure({ input: z.object({ text: z.string() }), output: z.string() }) })
const MAX_PAYLOAD = 4096

let server: PatchbayServer
const sockets: FrameSocket[] = []
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy()
  await server.close()
})

async function open(encoding: Encoding, headers: Record<string, string> = {}): Promise<FrameSocket> {
  server = createServer(api, { limits: { maxPayload: MAX_PAYLOAD }, closeTimeout: 2_000, handlers: { echo: ({ input }) => input.text } })
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
  const socket = await upgradeRaw(port, upgradeRequest({ headers: { 'Sec-WebSocket-Protocol': PROTOCOL[encoding], ...headers } }))
  sockets.push(socket)
  return socket
}

const packr = new Packr({ useRecords: false })
const bytesOf = (encoding: Encoding, message: unknown): Buffer => Buffer.from(encode(encoding, message))
const decode = (encoding: Encoding, received: ServerFrame): unknown =>
  fromWire(encoding === 'json' ? JSON.parse(received.payload.toString('utf8')) : packr.unpack(received.payload))

/** Splits `bytes` into `parts` frames: the first of the message's kind, then continuations. */
function fragments(encoding: Encoding, bytes: Buffer, parts: number): Buffer[] {
  const size = Math.ceil(bytes.length / parts)
  const out: Buffer[] = []
  for (let i = 0; i < parts; i++) {
    const opcode = i === 0 ? (encoding === 'json' ? Opcode.TEXT : Opcode.BINARY) : Opcode.CONTINUATION
    out.push(frame(opcode, bytes.subarray(i * size, (i + 1) * size), { fin: i === parts - 1 }))
  }
  return out
}

describe.each<Encoding>(ENCODINGS)('§2.2 frames on the wire (%s)', (encoding) => {
  const kind = encoding === 'json' ? Opcode.TEXT : Opcode.BINARY

  it('a message in fragments is one message; the answer is one unfragmented frame', async () => {
    // docs/protocol.md §2.2
    const socket = await open(encoding)
    for (const part of fragments(encoding, bytesOf(encoding, { t: 'call', id: 1, path: 'echo', input: { text: 'héllo' } }), 5)) socket.write(part)
    const answer = await socket.next()
    expect(answer).toMatchObject({ fin: true, rsv: 0, opcode: kind })
    expect(decode(encoding, answer)).toEqual({ t: 'result', id: 1, output: 'héllo' })
  })

  it('control frames between fragments are answered at once, before the message completes', async () => {
    // docs/protocol.md §2.2: RFC 6455 §5.4 lets control frames interleave with fragments.
    const socket = await open(encoding)
    const [first, second, third] = fragments(encoding, bytesOf(encoding, { t: 'call', id: 1, path: 'echo', input: { text: 'x' } }), 3)
    socket.write(first as Buffer)
    socket.write(frame(Opcode.PING, 'one'))
    expect(await socket.next()).toMatchObject({ opcode: Opcode.PONG, payload: Buffer.from('one') })
    socket.write(second as Buffer)
    socket.write(frame(Opcode.PING, 'two'))
    expect(await socket.next()).toMatchObject({ opcode: Opcode.PONG, payload: Buffer.from('two') })
    // An unsolicited pong between fragments is allowed too, and ignored.
    socket.write(frame(Opcode.PONG, 'three'))
    socket.write(third as Buffer)
    expect(decode(encoding, await socket.next())).toEqual({ t: 'result', id: 1, output: 'x' })
  })

  it('maxPayload counts the whole message, over all its fragments: 1009', async () => {
    // docs/protocol.md §2.2, §8, §9
    const socket = await open(encoding)
    const big = bytesOf(encoding, { t: 'call', id: 1, path: 'echo', input: { text: 'x'.repeat(MAX_PAYLOAD) } })
    for (const part of fragments(encoding, big, 4)) socket.write(part)
    expect(await socket.closeFrame()).toMatchObject({ code: 1009, reason: '' })
  })

  it('more than 16,384 fragments in one message: 1008', async () => {
    // docs/protocol.md §2.2, §8: ws's maxFragments; empty fragments count too.
    const socket = await open(encoding)
    const empties = Array.from({ length: 16_384 }, (_, i) => frame(i === 0 ? kind : Opcode.CONTINUATION, Buffer.alloc(0), { fin: false }))
    socket.write(Buffer.concat(empties))
    socket.write(frame(Opcode.CONTINUATION, bytesOf(encoding, { t: 'ping' })))
    expect(await socket.closeFrame()).toMatchObject({ code: 1008, reason: '' })
  })

  it('16,384 fragments is still one message', async () => {
    // docs/protocol.md §2.2: the bound is inclusive.
    const socket = await open(encoding)
    const empties = Array.from({ length: 16_383 }, (_, i) => frame(i === 0 ? kind : Opcode.CONTINUATION, Buffer.alloc(0), { fin: false }))
    socket.write(Buffer.concat(empties))
    socket.write(frame(Opcode.CONTINUATION, bytesOf(encoding, { t: 'ping' })))
    expect(decode(encoding, await socket.next())).toEqual({ t: 'pong' })
  })

  it('permessage-deflate offered: the 101 accepts no extension, and a compressed frame (RSV1) is closed 1002', async () => {
    // docs/protocol.md §2.2
    const socket = await open(encoding, { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' })
    expect(socket.answer.headers['sec-websocket-extensions']).toBeUndefined()
    expect(socket.answer.headers['sec-websocket-protocol']).toBe(PROTOCOL[encoding])
    socket.write(frame(kind, bytesOf(encoding, { t: 'ping' }), { rsv1: true }))
    expect((await socket.closeFrame()).code).toBe(1002)
  })

  it('an unmasked client frame is closed 1002', async () => {
    // docs/protocol.md §2.2: RFC 6455 §5.1.
    const socket = await open(encoding)
    socket.write(frame(kind, bytesOf(encoding, { t: 'ping' }), { mask: false }))
    expect((await socket.closeFrame()).code).toBe(1002)
  })

  it('a text frame that is not valid UTF-8 is closed 1007 by ws, under either subprotocol', async () => {
    // docs/protocol.md §2, §8
    const socket = await open(encoding)
    socket.write(frame(Opcode.TEXT, Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d])))
    expect(await socket.closeFrame()).toMatchObject({ code: 1007, reason: '' })
  })

  it('stats.violations counts a framing fault closed by ws once', async () => {
    // docs/protocol.md §2.2; ServerStats.violations (packages/server/src/types.ts)
    const socket = await open(encoding)
    socket.write(frame(kind, bytesOf(encoding, { t: 'ping' }), { mask: false }))
    expect((await socket.closeFrame()).code).toBe(1002)
    socket.destroy()
    await expect.poll(() => server.connectionCount).toBe(0)
    expect(server.stats.violations).toBe(1)
  })

  it('stats.violations counts a connection once when a framing fault follows its 4400 before the close handshake', async () => {
    // docs/protocol.md §2.2, §3; ServerStats.violations: ws reads on after the server's close
    // frame, so a fuzzer's next bad frame used to count the same connection a second time.
    const socket = await open(encoding)
    const undecodable = encoding === 'json' ? Buffer.from('{') : Buffer.from([0xc1])
    // One write, so ws reads both in one chunk: the first closes 4400, the second is a fault.
    socket.write(Buffer.concat([frame(kind, undecodable), frame(kind, bytesOf(encoding, { t: 'ping' }), { rsv1: true })]))
    expect((await socket.closeFrame()).code).toBe(4400)
    socket.destroy()
    await expect.poll(() => server.connectionCount).toBe(0)
    expect(server.stats.violations).toBe(1)
  })

  it('a new message before the last one ended (no continuation) is closed 1002', async () => {
    // docs/protocol.md §2.2
    const socket = await open(encoding)
    const [first] = fragments(encoding, bytesOf(encoding, { t: 'ping' }), 2)
    socket.write(first as Buffer)
    socket.write(frame(kind, bytesOf(encoding, { t: 'ping' })))
    expect((await socket.closeFrame()).code).toBe(1002)
  })
})
