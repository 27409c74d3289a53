/**
 * A WebSocket peer on a bare `net` socket, for what a `ws` client will not send: malformed
 * upgrade requests, fragments, control frames between them, reserved bits, unmasked frames
 * (docs/protocol.md §2, §2.2). It writes the handshake and frames byte by byte (RFC 6455 §5)
 * and parses what the server answers. Nothing here sleeps: every wait is on bytes or a close.
 */
import { connect, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'

/** Frame opcodes (RFC 6455 §5.2). */
export const Opcode = { CONTINUATION: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const

/** An HTTP response read off a raw socket. */
export interface HttpAnswer {
  status: number
  /** Header names in lower case. */
  headers: Record<string, string>
  body: string
}

/** A frame from the server. */
export interface ServerFrame {
  fin: boolean
  rsv: number
  opcode: number
  payload: Buffer
}

/** Builds one client frame: masked unless told otherwise (RFC 6455 §5.3). */
export function frame(opcode: number, payload: Uint8Array | string, options: { fin?: boolean; rsv1?: boolean; mask?: boolean } = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload)
  const masked = options.mask ?? true
  const first = ((options.fin ?? true) ? 0x80 : 0) | (options.rsv1 === true ? 0x40 : 0) | opcode
  let header: Buffer
  if (data.length < 126) header = Buffer.from([first, (masked ? 0x80 : 0) | data.length])
  else if (data.length < 65_536) {
    header = Buffer.alloc(4)
    header[0] = first
    header[1] = (masked ? 0x80 : 0) | 126
    header.writeUInt16BE(data.length, 2)
  } else {
    header = Buffer.alloc(10)
    header[0] = first
    header[1] = (masked ? 0x80 : 0) | 127
    header.writeBigUInt64BE(BigInt(data.length), 2)
  }
  if (!masked) return Buffer.concat([header, data])
  const key = randomBytes(4)
  const body = Buffer.alloc(data.length)
  for (let i = 0; i < data.length; i++) body[i] = (data[i] as number) ^ (key[i % 4] as number)
  return Buffer.concat([header, key, body])
}

/** The lines of a valid upgrade request, to be changed by a test. */
export function upgradeRequest(options: { method?: string; path?: string; headers?: Record<string, string | undefined> } = {}): string {
  const headers: Record<string, string | undefined> = {
    Host: '127.0.0.1',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Protocol': 'patchbay.v1.json',
    ...options.headers,
  }
  let text = `${options.method ?? 'GET'} ${options.path ?? '/'} HTTP/1.1\r\n`
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) text += `${name}: ${value}\r\n`
  return `${text}\r\n`
}

function parseHead(head: string): Omit<HttpAnswer, 'body'> {
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { status: Number(statusLine.split(' ')[1]), headers }
}

/** Sends `request` as it is and reads the answer until the server ends the connection. */
export function httpExchange(port: number, request: string | Buffer): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      const split = text.indexOf('\r\n\r\n')
      if (split === -1) return reject(new Error(`no HTTP answer: ${JSON.stringify(text)}`))
      resolve({ ...parseHead(text.slice(0, split)), body: text.slice(split + 4) })
    })
    socket.write(request)
  })
}

/** An upgraded raw socket: write frames, read the server's frames. */
export class FrameSocket {
  private buffer: Buffer
  private readonly frames: ServerFrame[] = []
  private cursor = 0
  private waiters: (() => void)[] = []
  private ended = false
  /** Resolves when the TCP connection is gone. */
  readonly closed: Promise<void>

  constructor(
    readonly socket: Socket,
    readonly answer: Omit<HttpAnswer, 'body'>,
    rest: Buffer,
  ) {
    this.buffer = rest
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk])
      this.parse()
    })
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.ended = true
        this.wake()
        resolve()
      })
    })
    socket.on('error', () => {})
    this.parse()
  }

  private wake(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const wake of waiters) wake()
  }

  private parse(): void {
    for (;;) {
      const buffer = this.buffer
      if (buffer.length < 2) break
      const b0 = buffer[0] as number
      const b1 = buffer[1] as number
      let length = b1 & 0x7f
      let offset = 2
      if (length === 126) {
        if (buffer.length < 4) break
        length = buffer.readUInt16BE(2)
        offset = 4
      } else if (length === 127) {
        if (buffer.length < 10) break
        length = Number(buffer.readBigUInt64BE(2))
        offset = 10
      }
      if (buffer.length < offset + length) break
      this.frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 0x7, opcode: b0 & 0x0f, payload: buffer.subarray(offset, offset + length) })
      this.buffer = buffer.subarray(offset + length)
    }
    this.wake()
  }

  /** Writes bytes as they are (one or more frames). */
  write(bytes: Buffer): void {
    this.socket.write(bytes)
  }

  /** The next frame from the server; rejects if the connection ends first. */
  async next(): Promise<ServerFrame> {
    for (;;) {
      const found = this.frames[this.cursor]
      if (found !== undefined) {
        this.cursor++
        return found
      }
      if (this.ended) throw new Error('the connection ended')
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
  }

  /** Reads frames until a close frame, which it returns as code and reason. */
  async closeFrame(): Promise<{ code: number; reason: string; before: ServerFrame[] }> {
    const before: ServerFrame[] = []
    for (;;) {
      const next = await this.next()
      if (next.opcode === Opcode.CLOSE) {
        return { code: next.payload.length >= 2 ? next.payload.readUInt16BE(0) : 1005, reason: next.payload.subarray(2).toString('utf8'), before }
      }
      before.push(next)
    }
  }

  destroy(): void {
    this.socket.destroy()
  }
}

/** Opens a socket, sends `request` and resolves once the 101 arrives (rejects on any other answer). */
export function upgradeRaw(port: number, request: string = upgradeRequest()): Promise<FrameSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let head = Buffer.alloc(0)
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk])
      const split = head.indexOf('\r\n\r\n')
      if (split === -1) return
      socket.off('data', onData)
      const answer = parseHead(head.subarray(0, split).toString('latin1'))
      if (answer.status !== 101) {
        socket.destroy()
        reject(new Error(`upgrade answered ${answer.status}`))
        return
      }
      resolve(new FrameSocket(socket, answer, head.subarray(split + 4)))
    }
    socket.on('data', onData)
    socket.once('error', reject)
    socket.write(request)
  })
}
