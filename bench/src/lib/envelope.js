/**
 * The hand-written envelope of the raw ws baselines: a call is `{id, m, a}` (method and
 * argument list), its answer `{id, r}`, a broadcast `{t, d}` (topic and data). No
 * validation, no error path: the floor any framework adds to.
 */
import { Packr, Unpackr } from 'msgpackr'

// The same msgpackr options as @patchbay/core, so the encodings cost the same on both sides.
const packr = new Packr({ useRecords: false, moreTypes: false })
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, structuredClone: false })

/**
 * @typedef {object} EnvelopeCodec
 * @property {(message: unknown) => string | Buffer} encode
 * @property {(data: Buffer | ArrayBuffer | Buffer[]) => any} decode
 */

/** @type {Record<'json' | 'msgpack', EnvelopeCodec>} */
export const envelopeCodecs = {
  json: {
    encode: (message) => JSON.stringify(message),
    decode: (data) => JSON.parse(String(data)),
  },
  msgpack: {
    encode: (message) => packr.pack(message),
    decode: (data) => unpackr.unpack(/** @type {Buffer} */ (data)),
  },
}

/**
 * The tags of Patchbay's messages (docs/protocol.md §3: every message is an array, element 0
 * its type's tag), as @patchbay/core's `Tag`: written out here so the raw systems that speak
 * Patchbay's wire (`-pbwire`) need no build of Patchbay (tests/bench/pbwire.test.ts checks
 * that the two agree).
 */
export const Tag = Object.freeze({ CALL: 1, RESULT: 2, ERROR: 3, CANCEL: 4, PING: 5, PONG: 6, SUB: 7, UNSUB: 8, PUB: 9, EVENT: 10, LAG: 11, STREAM: 12, CREDIT: 13, ITEM: 14 })

/**
 * @typedef {object} Sendable
 * @property {(data: string | Buffer) => void} send
 * @property {import('node:net').Socket} [_socket] ws's underlying socket (private field)
 */

/** @type {WeakSet<Sendable>} */
const corked = new WeakSet()

/** @type {WeakMap<Sendable, number>} frames sent since the socket was corked (pipelinedSend) */
const corkedFrames = new WeakMap()

/** @param {Sendable} ws */
function uncork(ws) {
  if (!corked.delete(ws)) return
  corkedFrames.delete(ws)
  ws._socket?.uncork()
}

/**
 * Sends a frame, coalescing every frame sent to one socket in the same tick into one
 * write: the socket is corked on the first send and uncorked on the next tick.
 * @param {Sendable} ws
 * @param {string | Buffer} data
 */
export function corkedSend(ws, data) {
  if (!corked.has(ws) && ws._socket !== undefined) {
    corked.add(ws)
    ws._socket.cork()
    process.nextTick(uncork, ws)
  }
  ws.send(data)
}

/** Frames a pipelined tick's writes hold before they go out: Patchbay's client's number. */
const PIPELINE_FRAMES = 16

/**
 * As corkedSend, but the tick's writes go out every PIPELINE_FRAMES frames, as Patchbay's
 * Node client sends its calls (packages/client/src/connection.ts): the peer starts on the
 * first frames of a burst while the rest are being made.
 * @param {Sendable} ws
 * @param {string | Buffer} data
 */
export function pipelinedSend(ws, data) {
  corkedSend(ws, data)
  const frames = (corkedFrames.get(ws) ?? 0) + 1
  if (frames >= PIPELINE_FRAMES) uncork(ws)
  else corkedFrames.set(ws, frames)
}

/**
 * Sends a frame as it is: one write per message.
 * @param {Sendable} ws
 * @param {string | Buffer} data
 */
export function plainSend(ws, data) {
  ws.send(data)
}
