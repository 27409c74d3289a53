/**
 * Patchbay's client in Node (createClient with `ws` as its WebSocket), one encoding offered.
 * Topics do not exist in Patchbay yet, so there is no fan-out adapter.
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
  }
}
