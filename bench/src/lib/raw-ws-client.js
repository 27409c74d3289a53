/**
 * The raw ws baseline client: the envelope from envelope.js over a bare `ws` socket, or with
 * `wire: 'patchbay'` Patchbay's messages, the §3 arrays (see raw-ws-server.js), for
 * rpc-throughput and fan-out only.
 */
import WebSocket from 'ws'
import { Tag, corkedSend, envelopeCodecs, pipelinedSend, plainSend } from './envelope.js'
import { openStalled } from './flow.js'

/** @typedef {import('./load-main.js').LoadAdapter} LoadAdapter */

/**
 * @param {'json' | 'msgpack'} encoding
 * @param {boolean | 'pipelined'} cork writes coalesced per tick, or also flushed every 16 frames
 * @param {'raw' | 'patchbay'} [wire]
 * @returns {LoadAdapter}
 */
export function rawWsAdapter(encoding, cork, wire = 'raw') {
  const patchbayWire = wire === 'patchbay'
  const codec = envelopeCodecs[encoding]
  const send = cork === 'pipelined' ? pipelinedSend : cork ? corkedSend : plainSend

  /**
   * One socket with its pending calls and topic listener.
   * @param {string} url
   */
  async function open(url) {
    // Speaking Patchbay's messages, it offers Patchbay's subprotocol too, so it can also
    // load a Patchbay server (tools/inproc.js does, to split a gap between the sides).
    // A handshake timeout as Patchbay's client and socket.io's have (10 s, 20 s): without it
    // a connection attempt lost in a storm (connection-storm) would wait for TCP to give up.
    const options = { handshakeTimeout: 10_000 }
    const ws = patchbayWire ? new WebSocket(url, `patchbay.v1.${encoding}`, options) : new WebSocket(url, options)
    /** @type {Map<number, (value: any) => void>} */
    const pending = new Map()
    /** @type {((data: unknown) => void) | undefined} */
    let onTopic
    /** @type {Map<number, (item: any) => void>} */
    const streams = new Map()
    let nextId = 1
    ws.on('message', (data) => {
      const message = codec.decode(/** @type {Buffer} */ (data))
      if (patchbayWire) {
        // [10, ch, seq, data] or [2, id, output?]
        if (message[0] === Tag.EVENT) onTopic?.(message[3])
        else if (message[0] === Tag.RESULT) {
          const resolve = pending.get(message[1])
          pending.delete(message[1])
          resolve?.(message[2])
        }
        return
      }
      if (message.s !== undefined) {
        streams.get(message.s)?.(message.d)
        return
      }
      if (message.t !== undefined) {
        onTopic?.(message.d)
        return
      }
      const resolve = pending.get(message.id)
      pending.delete(message.id)
      resolve?.(message.r)
    })
    await new Promise((resolve, reject) => {
      ws.once('open', resolve)
      ws.once('error', reject)
    })
    // A socket reset after it opened (connection-storm) answers its waiting calls with LOST
    // instead of leaving them waiting (no cost per call: the hot path is the baselines');
    // the error itself is the close's reason.
    ws.on('error', () => {})
    ws.once('close', () => {
      for (const resolve of pending.values()) resolve(LOST)
      pending.clear()
    })
    return {
      /**
       * @param {string} m
       * @param {unknown[]} a
       * @returns {Promise<any>}
       */
      call(m, a) {
        const id = nextId++
        return new Promise((resolve) => {
          pending.set(id, resolve)
          send(ws, codec.encode(patchbayWire ? wireMessage(id, m, a) : { id, m, a }))
        })
      },
      /** @param {string} m @param {unknown[]} a */
      notify(m, a) {
        // Patchbay answers every pub; nobody waits here for the answer (a late reply is dropped).
        send(ws, codec.encode(patchbayWire ? wireMessage(nextId++, m, a) : { m, a }))
      },
      /** @param {(data: unknown) => void} listener */
      listen(listener) {
        onTopic = listener
      },
      /**
       * @param {number} count
       * @param {(item: any) => void} onItem
       * @returns {import('./load-main.js').ItemStream}
       */
      stream(count, onItem) {
        const id = nextId++
        let done = false
        streams.set(id, onItem)
        const ended = new Promise((resolve, reject) => {
          pending.set(id, () => {
            done = true
            streams.delete(id)
            resolve(undefined)
          })
          ws.once('close', () => done || reject(new Error('socket closed during the stream')))
        })
        send(ws, codec.encode({ id, m: 'stream', a: [count] }))
        return {
          stop() {
            done = true
            streams.delete(id)
            pending.delete(id)
            send(ws, codec.encode({ m: 'cancel', a: [id] }))
          },
          ended: /** @type {Promise<void>} */ (ended),
        }
      },
      close() {
        ws.terminate()
      },
    }
  }

  return {
    async connect(url) {
      const socket = await open(url)
      return { add: (a, b) => socket.call('add', [a, b]), echo: (payload) => socket.call('echo', [payload]), close: () => socket.close() }
    },
    async subscribe(url, topic, onMessage) {
      const socket = await open(url)
      socket.listen(onMessage)
      if ((await socket.call('sub', [topic])) === LOST) throw new Error('socket closed before the subscription was confirmed')
      return { close: () => socket.close() }
    },
    async publisher(url, topic) {
      const socket = await open(url)
      return { publish: (payload) => socket.notify('pub', [topic, payload]), close: () => socket.close() }
    },
    stall(url, topic) {
      // A bare socket speaking the same envelope; the answer to call 1 confirms it.
      return openStalled(url, undefined, codec.encode({ id: 1, m: 'sub', a: [topic] }), (data) => codec.decode(data).id === 1)
    },
    async streams(url) {
      const socket = await open(url)
      return {
        credit: false,
        open: ({ count }, onItem) => socket.stream(count, onItem),
        close: () => socket.close(),
      }
    },
  }
}

/** What a call waiting on a socket that closed resolves with. */
const LOST = Symbol('lost')

/**
 * The Patchbay message for a raw call (docs/protocol.md §3, §4, §12, §13), as Patchbay's
 * client builds it for the bench router: `meta` (element 3) null, the feed topic's params
 * after the published data.
 * @param {number} id
 * @param {string} m
 * @param {unknown[]} a
 */
function wireMessage(id, m, a) {
  switch (m) {
    case 'add':
      return [Tag.CALL, id, 'math.add', null, { a: a[0], b: a[1] }]
    case 'sub':
      return [Tag.SUB, id, 'feed', null, { topic: a[0] }]
    case 'pub':
      return [Tag.PUB, id, 'feed', null, a[1], { topic: a[0] }]
    default:
      throw new Error(`no Patchbay message for ${m}`)
  }
}
