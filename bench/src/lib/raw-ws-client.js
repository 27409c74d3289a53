/**
 * The raw ws baseline client: the envelope from envelope.js over a bare `ws` socket.
 */
import WebSocket from 'ws'
import { corkedSend, envelopeCodecs, plainSend } from './envelope.js'

/** @typedef {import('./load-main.js').LoadAdapter} LoadAdapter */

/**
 * @param {'json' | 'msgpack'} encoding
 * @param {boolean} cork
 * @returns {LoadAdapter}
 */
export function rawWsAdapter(encoding, cork) {
  const codec = envelopeCodecs[encoding]
  const send = cork ? corkedSend : plainSend

  /**
   * One socket with its pending calls and topic listener.
   * @param {string} url
   */
  async function open(url) {
    const ws = new WebSocket(url)
    /** @type {Map<number, (value: any) => void>} */
    const pending = new Map()
    /** @type {((data: unknown) => void) | undefined} */
    let onTopic
    let nextId = 1
    ws.on('message', (data) => {
      const message = codec.decode(/** @type {Buffer} */ (data))
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
          send(ws, codec.encode({ id, m, a }))
        })
      },
      /** @param {string} m @param {unknown[]} a */
      notify(m, a) {
        send(ws, codec.encode({ m, a }))
      },
      /** @param {(data: unknown) => void} listener */
      listen(listener) {
        onTopic = listener
      },
      close() {
        ws.terminate()
      },
    }
  }

  return {
    async connect(url) {
      const socket = await open(url)
      return { add: (a, b) => socket.call('add', [a, b]), close: () => socket.close() }
    },
    async subscribe(url, topic, onMessage) {
      const socket = await open(url)
      socket.listen(onMessage)
      await socket.call('sub', [topic])
      return { close: () => socket.close() }
    },
    async publisher(url, topic) {
      const socket = await open(url)
      return { publish: (payload) => socket.notify('pub', [topic, payload]), close: () => socket.close() }
    },
  }
}
