/**
 * A frame-level fake server on a real socket: it speaks patchbay.v1 by hand so client tests
 * can answer out of order, withhold replies, send garbage, or pick a wrong subprotocol.
 */
import { WebSocketServer, type WebSocket } from 'ws'
import type { Encoding } from '@patchbay/core'
import { serverCodec } from '../support/codecs.js'
import { fromWire, toWire } from '../support/wire.js'

export interface RawServer {
  url: string
  /** Resolves with the next connection's socket. */
  nextSocket: () => Promise<WebSocket>
  /** Offered subprotocol lists, one per handshake, in order. */
  offers: string[][]
  /** Resolves with the next decoded frame from `socket`. */
  nextMessage: (socket: WebSocket) => Promise<Record<string, unknown>>
  send: (socket: WebSocket, message: unknown) => void
  close: () => Promise<void>
}

export async function startRawServer(encoding: Encoding, pick?: (offered: Set<string>) => string | false): Promise<RawServer> {
  const codec = serverCodec(encoding)
  const offers: string[][] = []
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    handleProtocols: (offered) => {
      offers.push([...offered])
      return pick ? pick(offered) : offered.has(codec.subprotocol) ? codec.subprotocol : false
    },
  })
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()))
  const waiting: ((socket: WebSocket) => void)[] = []
  const arrived: WebSocket[] = []
  const inbox = new Map<WebSocket, { queue: Record<string, unknown>[]; waiters: ((message: Record<string, unknown>) => void)[] }>()
  wss.on('connection', (socket) => {
    const box = { queue: [] as Record<string, unknown>[], waiters: [] as ((message: Record<string, unknown>) => void)[] }
    inbox.set(socket, box)
    socket.on('message', (data: Buffer, isBinary) => {
      const message = fromWire(codec.decode(isBinary ? new Uint8Array(data) : data.toString())) as Record<string, unknown>
      const waiter = box.waiters.shift()
      if (waiter) waiter(message)
      else box.queue.push(message)
    })
    const waiter = waiting.shift()
    if (waiter) waiter(socket)
    else arrived.push(socket)
  })
  const address = wss.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    url: `ws://127.0.0.1:${port}`,
    offers,
    nextSocket: () => {
      const socket = arrived.shift()
      return socket ? Promise.resolve(socket) : new Promise((resolve) => waiting.push(resolve))
    },
    nextMessage: (socket) => {
      const box = inbox.get(socket)
      if (!box) throw new Error('unknown socket')
      const message = box.queue.shift()
      return message ? Promise.resolve(message) : new Promise((resolve) => box.waiters.push(resolve))
    },
    send: (socket, message) => socket.send(codec.encode(toWire(message))),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of wss.clients) socket.terminate()
        wss.close(() => resolve())
      }),
  }
}
