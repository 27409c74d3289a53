/**
 * Patchbay's client in Node (createClient with `ws` as its WebSocket), one encoding offered.
 */
import WebSocket from 'ws'
import { createClient } from '@patchbay/client'
import { api } from './patchbay-api.js'

/** @typedef {import('./load-main.js').LoadAdapter} LoadAdapter */

/**
 * @param {'json' | 'msgpack'} encoding
 * @returns {LoadAdapter}
 */
export function patchbayAdapter(encoding) {
  return {
    async connect(url) {
      const client = createClient(api, { url, WebSocket, encodings: [encoding] })
      await client.connect()
      if (client.encoding !== encoding) throw new Error(`negotiated ${String(client.encoding)}, wanted ${encoding}`)
      return { add: (a, b) => client.math.add({ a, b }), close: () => client.close() }
    },
    async subscribe(url, topic, onMessage) {
      const client = createClient(api, { url, WebSocket, encodings: [encoding] })
      const off = client.feed.subscribe({ topic }, onMessage)
      await off.ready
      return { close: () => client.close() }
    },
    async publisher(url, topic) {
      const client = createClient(api, { url, WebSocket, encodings: [encoding] })
      await client.connect()
      return { publish: (payload) => client.feed.publish({ topic }, payload), close: () => client.close() }
    },
  }
}
