/**
 * The raw ws baseline server: one ws.WebSocketServer, the hand-written envelope, a topic
 * table for fan-out, and hand-written streams (stream-throughput). `cork` selects one write
 * per message or one per tick. With `wire: 'patchbay'` it speaks Patchbay's messages instead
 * (docs/protocol.md §3 arrays: call/result, sub/event, pub, §4, §12, §13) and nothing else of
 * Patchbay: no validation, no limits, no bookkeeping. That system measures what the wire
 * format costs by itself, so a gap between it and Patchbay is Patchbay's own code. With
 * `cork: 'preframed'` a broadcast's WebSocket frame (header and payload) is built once per
 * publish with ws's `Sender.frame`, as engine.io does for a room, and the same buffers are
 * written to each member's corked net.Socket: the practical limit of a fan-out on ws.
 */
import * as wsModule from 'ws'
import { WebSocketServer } from 'ws'
import { Tag, corkedSend, envelopeCodecs, plainSend } from './envelope.js'
import { whenWritable } from './flow.js'
import { LISTEN_BACKLOG, serve } from './server-main.js'
import { STREAM_BATCH, STREAM_HIGH_WATER, streamItem } from './stream-item.js'

/**
 * @param {'json' | 'msgpack'} encoding
 * @param {boolean | 'preframed'} cork
 * @param {'raw' | 'patchbay'} [wire]
 */
export function serveRawWs(encoding, cork, wire = 'raw') {
  return serve((params) => startRawWs(encoding, cork, wire, params))
}

/**
 * Starts the server in this process (the bench's children, and tools/inproc.js).
 * @param {'json' | 'msgpack'} encoding
 * @param {boolean | 'preframed'} cork
 * @param {'raw' | 'patchbay'} wire
 * @param {Record<string, any>} params
 * @returns {Promise<{ port: number, close: () => Promise<void> }>}
 */
export function startRawWs(encoding, cork, wire, params) {
  const codec = envelopeCodecs[encoding]
  const send = cork ? corkedSend : plainSend
  /**
   * Sends one broadcast to every member: with `preframed`, one frame for all of them.
   * @param {Iterable<import('ws').WebSocket>} members
   * @param {string | Buffer} data
   */
  const broadcast =
    cork === 'preframed'
      ? (/** @type {Iterable<import('ws').WebSocket>} */ members, /** @type {string | Buffer} */ data) => {
          const frame = preframe(data, encoding === 'msgpack')
          for (const member of members) writeFrame(member, frame)
        }
      : (/** @type {Iterable<import('ws').WebSocket>} */ members, /** @type {string | Buffer} */ data) => {
          for (const member of members) send(member, data)
        }
  /** @type {Map<string, Set<import('ws').WebSocket>>} */
  const topics = new Map()

  /**
   * Adds `ws` to the members of `topic` until it closes.
   * @param {import('ws').WebSocket} ws
   * @param {string} topic
   */
  function join(ws, topic) {
    let members = topics.get(topic)
    if (members === undefined) topics.set(topic, (members = new Set()))
    const joined = members
    joined.add(ws)
    ws.once('close', () => joined.delete(ws))
  }

  /** @type {Map<string, { ch: number, seq: number }>} channel number and seq per topic */
  const channels = new Map()
  /**
   * Patchbay's messages (§3 arrays), answered as Patchbay's server answers them, with no
   * checks: a call `[1, id, path, meta, input]` gets `[2, id, output]`; a sub
   * `[7, id, path, meta, params]` gets `[2, id, { ch, seq, epoch }]`; a pub
   * `[9, id, path, meta, data, params]` goes out as `[10, ch, seq, data]` to every member and
   * is answered `[2, id]`.
   * @param {import('ws').WebSocket} ws
   * @param {any[]} message
   */
  function patchbayWire(ws, message) {
    switch (message[0]) {
      case Tag.CALL:
        send(ws, codec.encode([Tag.RESULT, message[1], message[4].a + message[4].b]))
        return
      case Tag.SUB: {
        const topic = String(message[4].topic)
        join(ws, topic)
        let channel = channels.get(topic)
        if (channel === undefined) channels.set(topic, (channel = { ch: channels.size + 1, seq: 0 }))
        send(ws, codec.encode([Tag.RESULT, message[1], { ch: channel.ch, seq: channel.seq, epoch: 'raw.1' }]))
        return
      }
      case Tag.PUB: {
        const topic = String(message[5].topic)
        const members = topics.get(topic)
        const channel = channels.get(topic)
        if (members !== undefined && channel !== undefined) broadcast(members, codec.encode([Tag.EVENT, channel.ch, ++channel.seq, message[4]]))
        send(ws, codec.encode([Tag.RESULT, message[1]]))
        return
      }
    }
  }

  return new Promise((resolve) => {
    const highWater = params.highWater ?? STREAM_HIGH_WATER
    const batch = params.batch ?? STREAM_BATCH
    // Speaking Patchbay's messages, it answers Patchbay's subprotocol, so Patchbay's client
    // can load it too (tools/inproc.js does, to split a gap between the sides).
    const subprotocol = `patchbay.v1.${encoding}`
    /** @type {import('ws').ServerOptions} */
    const options = { port: 0, host: '127.0.0.1', backlog: LISTEN_BACKLOG }
    if (wire !== 'raw') options.handleProtocols = (offered) => (offered.has(subprotocol) ? subprotocol : false)
    const wss = new WebSocketServer(options, () => {
      const port = /** @type {import('node:net').AddressInfo} */ (wss.address()).port
      const close = () =>
        new Promise((done) => {
          for (const ws of wss.clients) ws.terminate()
          wss.close(() => done(undefined))
        })
      resolve({ port, close })
    })
    wss.on('connection', (ws) => {
      /** @type {Map<number, () => void>} cancel functions of the socket's running streams */
      const streams = new Map()
      ws.on('message', (data) => {
        const message = codec.decode(/** @type {Buffer} */ (data))
        if (wire === 'patchbay') return patchbayWire(ws, message)
        switch (message.m) {
          case 'add':
            send(ws, codec.encode({ id: message.id, r: message.a[0] + message.a[1] }))
            break
          case 'echo':
            send(ws, codec.encode({ id: message.id, r: message.a[0] }))
            break
          case 'sub': {
            join(ws, String(message.a[0]))
            send(ws, codec.encode({ id: message.id, r: true }))
            break
          }
          case 'pub': {
            const members = topics.get(String(message.a[0]))
            if (members === undefined) break
            // Encoded once, written to every subscriber: what a hand-rolled broadcast does.
            broadcast(members, codec.encode({ t: message.a[0], d: message.a[1] }))
            break
          }
          case 'stream': {
            // Items {s: id, d: {n, ts}} while the socket drains, then {id, r: count}.
            const id = message.id
            const count = Number(message.a[0])
            let n = 0
            let running = true
            streams.set(id, () => (running = false))
            const pump = () => {
              if (!running || ws.readyState !== ws.OPEN) return
              for (let i = 0; i < batch && n < count && ws.bufferedAmount < highWater; i++, n++) {
                send(ws, codec.encode({ s: id, d: streamItem(n) }))
              }
              if (n < count) return whenWritable(ws, highWater, pump)
              streams.delete(id)
              send(ws, codec.encode({ id, r: n }))
            }
            pump()
            break
          }
          case 'cancel':
            streams.get(message.a[0])?.()
            streams.delete(message.a[0])
            break
        }
      })
    })
  })
}

/**
 * ws's Sender class: exported by ws (engine.io uses it), but not in @types/ws.
 * @type {{ frame(data: Buffer, options: { fin: boolean, rsv1: boolean, opcode: number, mask: boolean, readOnly: boolean }): Buffer[] }}
 */
const Sender = /** @type {any} */ (wsModule).Sender

/**
 * The WebSocket frame of one server message (unmasked, one fragment), made once for any
 * number of sockets: ws's `Sender.frame`, as engine.io's broadcast uses it.
 * @param {string | Buffer} data
 * @param {boolean} binary
 * @returns {Buffer[]} the header and the payload
 */
function preframe(data, binary) {
  const payload = typeof data === 'string' ? Buffer.from(data) : data
  return Sender.frame(payload, { fin: true, rsv1: false, opcode: binary ? 2 : 1, mask: false, readOnly: false })
}

/** @type {WeakSet<import('ws').WebSocket>} sockets corked in this tick */
const corkedSockets = new WeakSet()

/** @param {import('ws').WebSocket} ws */
function uncorkSocket(ws) {
  corkedSockets.delete(ws)
  const socket = /** @type {import('node:net').Socket | undefined} */ (/** @type {any} */ (ws)._socket)
  socket?.uncork()
}

/**
 * Writes a prepared frame straight to the socket under ws (its private `_socket`), corked
 * for the tick as corkedSend does. ws's bufferedAmount still counts it (it reads the
 * socket's own queue). Safe here: this server has no permessage-deflate and never sends
 * Blobs, so ws's sender never queues a frame of its own that this one could overtake.
 * @param {import('ws').WebSocket} ws
 * @param {Buffer[]} frame
 */
function writeFrame(ws, frame) {
  if (ws.readyState !== ws.OPEN) return
  const socket = /** @type {import('node:net').Socket} */ (/** @type {any} */ (ws)._socket)
  if (!corkedSockets.has(ws)) {
    corkedSockets.add(ws)
    socket.cork()
    process.nextTick(uncorkSocket, ws)
  }
  for (const buffer of frame) socket.write(buffer)
}
