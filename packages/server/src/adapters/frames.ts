/**
 * Topic events framed once per publish (docs/protocol.md §12). The session core hands every
 * subscriber of a codec the same payload bytes; `ws.send` would still build a WebSocket
 * frame header, a Buffer view and a corked write pair for each socket. Here the whole frame
 * (RFC 6455 §5.2 header and payload) is built once per payload and written as is to every
 * socket, as engine.io broadcasts to a room.
 *
 * Writing a frame past `ws.send` relies on `ws` internals (its `_socket` and `_sender`),
 * which are not public API: everything that touches them is in this file, feature-detected
 * per socket, and a socket where the direct write is not certainly equivalent falls back to
 * `ws.send`. See {@link directWriter}.
 */
import { Socket } from 'node:net'
// Types only: adapters/ws.ts stays the one module that loads ws; this one serves it alone.
import type { WebSocket } from 'ws'

/** Payloads up to this size are copied behind their header, once per publish, so each socket takes one write. */
const MERGE_LIMIT = 65_536

/** One event's frame, shared by every socket it goes to. */
export interface SharedFrame {
  /** The whole frame, or only its header when `body` is set. */
  readonly head: Buffer
  /** The payload, when it is too large to copy behind the header. */
  readonly body: Uint8Array | undefined
}

/**
 * The header of an unmasked, unfragmented server frame (RFC 6455 §5.2): FIN, no RSV bits,
 * the opcode, and the shortest length encoding (7 bits, 16 bits at 126, 64 bits at 65536).
 * With `payload`, the payload is copied behind it.
 */
function buildFrame(opcode: number, length: number, payload: Uint8Array | undefined): Buffer {
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10
  // Its own memory, not a slice of Node's shared pool: a frame queued for a slow reader must
  // not keep 8 KiB of pool alive that outbound flow control does not count.
  const frame = Buffer.allocUnsafeSlow(headerLength + (payload === undefined ? 0 : length))
  frame[0] = 0x80 | opcode
  if (headerLength === 2) frame[1] = length
  else if (headerLength === 4) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 127
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2)
    frame.writeUInt32BE(length >>> 0, 6)
  }
  if (payload !== undefined) frame.set(payload, headerLength)
  return frame
}

/**
 * The frame of the last shared payload per frame kind (text, binary): a publish hands the
 * same payload object to its subscribers one after another, so one slot per kind is a hit
 * for all of them but the first, whatever their number. One per server; it keeps the last
 * event's frame until the next publish of its kind replaces it.
 */
export class FrameCache {
  private textPayload: Uint8Array | undefined
  private textFrame: SharedFrame | undefined
  private binaryPayload: Uint8Array | undefined
  private binaryFrame: SharedFrame | undefined

  /** The frame of `payload` as a text (JSON, its UTF-8 bytes) or binary frame. */
  frameOf(payload: Uint8Array, binary: boolean): SharedFrame {
    if (binary) {
      if (payload !== this.binaryPayload || this.binaryFrame === undefined) {
        this.binaryFrame = prepare(payload, 0x2)
        this.binaryPayload = payload
      }
      return this.binaryFrame
    }
    if (payload !== this.textPayload || this.textFrame === undefined) {
      this.textFrame = prepare(payload, 0x1)
      this.textPayload = payload
    }
    return this.textFrame
  }
}

function prepare(payload: Uint8Array, opcode: number): SharedFrame {
  const length = payload.byteLength
  if (length <= MERGE_LIMIT) return { head: buildFrame(opcode, length, payload), body: undefined }
  // A large payload is not copied: header and payload go as two writes of one corked batch.
  return { head: buildFrame(opcode, length, undefined), body: payload }
}

/** The part of ws's private Sender this file reads. */
interface SenderState {
  /** Frames ws queued itself (compressing, reading a Blob): a direct write must not overtake them. */
  readonly _queue: { readonly length: number }
  /** 0 (DEFAULT) when ws's sender writes at once (ws ≥ 8.18); absent before. */
  readonly _state?: number
}

/** ws's private handles on its socket and sender (ws 8). */
interface WsInternals {
  readonly _socket: Socket
  readonly _sender: SenderState
}

/**
 * Whether frames may be written straight to the net.Socket under `ws` instead of through
 * ws.send: not where that is not certainly what ws.send would put on the wire —
 * - an extension was negotiated (permessage-deflate: frames would need compressing; the
 *   server turns it off, this guards a future option);
 * - the socket under ws is not a net.Socket (a Duplex handed to `handleUpgrade` may be
 *   anything), or ws's private fields are not where ws 8 keeps them.
 * Checked once per socket; {@link writeDirect} checks ws's sender per write.
 */
export function supportsDirectWrites(ws: WebSocket): boolean {
  if (ws.extensions !== '') return false
  const internals = ws as unknown as { _socket?: unknown; _sender?: { _queue?: { length?: unknown } } | null }
  return internals._socket instanceof Socket && typeof internals._sender?._queue?.length === 'number'
}

/**
 * Writes a prepared frame straight to the socket under `ws` (one that
 * {@link supportsDirectWrites}), `done` called once it is handed to the kernel or failed, as
 * ws.send's callback is. Returns false, writing nothing, while ws's own sender queues
 * frames (it does only while compressing or reading a Blob, neither of which Patchbay
 * sends): a direct write would overtake them, so the caller uses ws.send. Bytes written
 * here are in ws's `bufferedAmount` (it reads the socket's own queue), so outbound flow
 * control counts them as before (§14).
 */
export function writeDirect(ws: WebSocket, frame: SharedFrame, done: () => void): boolean {
  const { _socket: socket, _sender: sender } = ws as unknown as WsInternals
  if (sender._queue.length !== 0 || (sender._state !== undefined && sender._state !== 0)) return false
  if (frame.body === undefined) socket.write(frame.head, done)
  else {
    socket.write(frame.head)
    socket.write(frame.body, done)
  }
  return true
}
