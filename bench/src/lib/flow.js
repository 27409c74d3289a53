/**
 * Flow control as a user of a library without it writes it by hand: a producer sends while
 * its socket's buffer (`ws.bufferedAmount`: bytes accepted and not yet handed to the kernel)
 * is under a high-water mark, and waits for the socket to drain above it. The raw ws
 * baselines and tRPC use it in stream-throughput; socket.io has its own rule (see
 * socketio-server.js). A stalled reader for slow-consumer is here too.
 */
import WebSocket from 'ws'

/**
 * Calls `next` once `ws` can take more: on the next macrotask while fewer than `highWater`
 * bytes are buffered (so the event loop, and the peer's cancel, get a turn between batches),
 * else once its socket has drained. If the socket closes meanwhile, `next` is never called.
 * @param {WebSocket} ws
 * @param {number} highWater
 * @param {() => void} next
 */
export function whenWritable(ws, highWater, next) {
  const socket = /** @type {import('node:net').Socket | undefined} */ (/** @type {any} */ (ws)._socket)
  if (ws.bufferedAmount < highWater || socket === undefined) {
    setImmediate(next)
    return
  }
  if (socket.writableNeedDrain) {
    socket.once('drain', next)
    return
  }
  // Buffered above the mark without a pending 'drain' (not expected from ws): poll.
  const poll = () => {
    if (ws.readyState !== WebSocket.OPEN) return
    if (ws.bufferedAmount < highWater) next()
    else setTimeout(poll, 1)
  }
  setTimeout(poll, 1)
}

/**
 * `whenWritable` as a promise, for async generators.
 * @param {WebSocket} ws
 * @param {number} highWater
 * @returns {Promise<void>}
 */
export function writable(ws, highWater) {
  return new Promise((resolve) => whenWritable(ws, highWater, resolve))
}

/**
 * What a stalled subscriber found when it read again.
 * @typedef {object} Backlog
 * @property {number} code the close code the server sent (4507 from Patchbay), or 1006 if
 *   it dropped the TCP connection without a close frame; 0 if it is still open
 * @property {number} messages frames read after resuming: what the server had sent or
 *   queued for it while it was stalled (in the kernel's socket buffers, then its own)
 * @property {number} bytes their payload bytes
 * @property {number} complete 1 if the backlog was read to its end (every expected message,
 *   or the server's close), 0 if the probe ran out of time first
 */

/**
 * A subscriber that has stopped reading, for slow-consumer.
 * @typedef {object} Stalled
 * @property {(expected: number, timeoutMs: number) => Promise<Backlog>} probe reads again
 *   until `expected` messages came, the server closed the connection, or `timeoutMs` passed
 * @property {() => void} close
 */

/** How often a probe looks for a close frame ws has read (it has no event for that). */
const CLOSE_POLL_MS = 10

/**
 * Stalls `ws`: `ws.pause()` stops reading from its TCP socket, so whatever the server sends
 * fills the kernel's buffers and then the server's, as with a peer that stopped reading.
 * @param {WebSocket} ws
 * @returns {Stalled}
 */
export function stall(ws) {
  /** @type {number | undefined} */
  let closedWith
  ws.on('close', (code) => (closedWith = code))
  ws.on('error', () => {})
  ws.pause()
  return {
    probe(expected, timeoutMs) {
      let messages = 0
      let bytes = 0
      // A server that closed sends its close frame after the backlog. ws emits 'close' only
      // once the server has also ended the TCP connection (Patchbay terminates a slow
      // consumer's socket after its closeTimeout, 5 s), so the probe looks for the frame
      // itself: the socket turns CLOSING, and ws keeps the code in `_closeCode`.
      const code = () => closedWith ?? (ws.readyState === WebSocket.CLOSING ? Number(/** @type {any} */ (ws)._closeCode ?? 1005) : 0)
      if (closedWith !== undefined) return Promise.resolve({ code: closedWith, messages, bytes, complete: 1 })
      return new Promise((resolve) => {
        /** @param {number} complete */
        const finish = (complete) => {
          clearTimeout(deadline)
          clearInterval(poll)
          ws.off('message', onMessage)
          resolve({ code: code(), messages, bytes, complete })
        }
        const deadline = setTimeout(() => finish(0), timeoutMs)
        const poll = setInterval(() => code() !== 0 && finish(1), CLOSE_POLL_MS)
        /** @param {Buffer | ArrayBuffer | Buffer[]} data */
        const onMessage = (data) => {
          messages++
          bytes += Array.isArray(data) ? data.reduce((sum, b) => sum + b.length, 0) : data instanceof ArrayBuffer ? data.byteLength : data.length
          if (messages >= expected) finish(1)
        }
        ws.on('message', onMessage)
        if (expected <= 0) finish(1)
        else ws.resume()
      })
    },
    close() {
      ws.terminate()
    },
  }
}

/**
 * Opens a bare `ws` socket, sends one subscribe frame, waits for its confirmation and stalls
 * the socket: a stalled subscriber without a client library's timers (a Patchbay client would
 * notice the silence and reconnect, which is not what a frozen peer does).
 * @param {string} url
 * @param {string | undefined} protocol WebSocket subprotocol to offer
 * @param {string | Buffer} request the subscribe frame, already encoded
 * @param {(data: Buffer) => boolean} confirmed true for the frame that confirms the
 *   subscription; throws for a refusal
 * @returns {Promise<Stalled>}
 */
export async function openStalled(url, protocol, request, confirmed) {
  const ws = protocol === undefined ? new WebSocket(url) : new WebSocket(url, protocol)
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  await new Promise((resolve, reject) => {
    /** @param {Buffer} data */
    const onMessage = (data) => {
      let done
      try {
        done = confirmed(data)
      } catch (error) {
        reject(error)
        return
      }
      if (!done) return
      ws.off('message', onMessage)
      resolve(undefined)
    }
    ws.on('message', onMessage)
    ws.once('close', (code) => reject(new Error(`closed with ${code} before the subscription was confirmed`)))
    ws.send(request)
  })
  return stall(ws)
}
