/**
 * A WebSocket peer made by hand on a raw TCP socket, for faults no WebSocket library would
 * commit: it upgrades, sends frames it masks itself, and then may stop reading for good
 * (the socket is paused, so the kernel's buffers fill and the server's writes back up).
 */
import { randomBytes } from 'node:crypto'
import net from 'node:net'

/** Opens a socket to `port`, upgrades it with `subprotocol`, and returns it paused (unread). */
export async function rawUpgrade(port: number, subprotocol = 'patchbay.v1.json'): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1')
  // A peer that never reads learns of a reset only when it writes: ignore it, the test
  // watches the server's side.
  socket.on('error', () => {})
  const key = randomBytes(16).toString('base64')
  socket.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ${subprotocol}\r\n\r\n`,
  )
  const head = await new Promise<string>((resolve, reject) => {
    let text = ''
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1')
      if (!text.includes('\r\n\r\n')) return
      socket.off('data', onData)
      socket.off('close', onClose)
      // From here on nothing is read: removing the listener alone would not stop the flow.
      socket.pause()
      resolve(text)
    }
    const onClose = (): void => reject(new Error(`closed during the upgrade: ${text}`))
    socket.on('data', onData)
    socket.once('close', onClose)
  })
  if (!head.startsWith('HTTP/1.1 101')) {
    socket.destroy()
    throw new Error(`upgrade refused: ${head.split('\r\n')[0] ?? ''}`)
  }
  return socket
}

/** A client text frame holding `text`, masked as RFC 6455 §5.3 requires of a client. */
export function textFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8')
  if (payload.length > 125) throw new RangeError('textFrame makes short frames only')
  const mask = randomBytes(4)
  const frame = Buffer.alloc(6 + payload.length)
  frame[0] = 0x81 // FIN, text
  frame[1] = 0x80 | payload.length // masked, length
  mask.copy(frame, 2)
  for (let i = 0; i < payload.length; i++) frame[6 + i] = (payload[i] as number) ^ (mask[i % 4] as number)
  return frame
}
