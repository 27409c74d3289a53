/**
 * A raw, frame-level client for conformance tests: it sends hand-made frames and lets a test
 * await the next decoded frame or the close, with no Patchbay client in between.
 */
import WebSocket from 'ws'
import { codecs, type Encoding } from '@patchbay/core'

export interface RawClient {
  socket: WebSocket
  /** Sends a message encoded with the connection's codec. */
  send(message: unknown): void
  /** Sends bytes or text as they are (for hostile frames). */
  sendRaw(data: string | Uint8Array, binary: boolean): void
  next(): Promise<Record<string, unknown>>
  closed: Promise<{ code: number; reason: string }>
}

export function connectRaw(url: string, encoding: Encoding, protocols?: string[]): Promise<RawClient> {
  const codec = codecs[encoding]
  const socket = new WebSocket(url, protocols ?? [codec.subprotocol])
  const queue: Record<string, unknown>[] = []
  const waiters: ((message: Record<string, unknown>) => void)[] = []
  socket.on('message', (data: Buffer, isBinary: boolean) => {
    const message = codec.decode(isBinary ? new Uint8Array(data) : data.toString()) as Record<string, unknown>
    const waiter = waiters.shift()
    if (waiter) waiter(message)
    else queue.push(message)
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))
  })
  return new Promise((resolve, reject) => {
    socket.once('error', reject)
    socket.once('open', () =>
      resolve({
        socket,
        send: (message) => socket.send(codec.encode(message)),
        sendRaw: (data, binary) => socket.send(data, { binary }),
        next: () => {
          const message = queue.shift()
          return message ? Promise.resolve(message) : new Promise((res) => waiters.push(res))
        },
        closed,
      }),
    )
  })
}

/** Resolves with the HTTP status (and body) of a refused upgrade. */
export function refusal(url: string, protocols: string[], headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const socket = new WebSocket(url, protocols, { headers })
  return new Promise((resolve, reject) => {
    socket.once('open', () => reject(new Error('the upgrade was accepted')))
    socket.once('error', () => {})
    socket.once('unexpected-response', (_request, response) => {
      let body = ''
      response.on('data', (chunk: Buffer) => (body += chunk.toString()))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
    })
  })
}
