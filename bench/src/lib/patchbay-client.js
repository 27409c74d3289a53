/**
 * Patchbay's client in Node (createClient with `ws` as its WebSocket), one encoding offered.
 */
import WebSocket from 'ws'
import { createClient } from '@patchbay/client'
import { clientCodecs } from './client-codecs.js'
import { api } from './patchbay-api.js'
import { Tag, envelopeCodecs } from './envelope.js'
import { openStalled } from './flow.js'

/** @typedef {import('./load-main.js').LoadAdapter} LoadAdapter */

/**
 * @param {'json' | 'msgpack'} encoding
 * @returns {LoadAdapter}
 */
export function patchbayAdapter(encoding) {
  // The wire protocol's own codecs have the same options as the raw baselines' envelope
  // (JSON text frames, msgpackr without records).
  const codec = envelopeCodecs[encoding]
  return {
    async connect(url) {
      const client = createClient(api, { url, WebSocket, encodings: [clientCodecs[encoding]] })
      await client.connect()
      if (client.encoding !== encoding) throw new Error(`negotiated ${String(client.encoding)}, wanted ${encoding}`)
      return {
        add: (a, b) => client.math.add({ a, b }),
        echo: (payload) => (typeof payload === 'string' ? client.blob.text(payload) : client.blob.bytes(payload)),
        close: () => client.close(),
      }
    },
    async subscribe(url, topic, onMessage) {
      const client = createClient(api, { url, WebSocket, encodings: [clientCodecs[encoding]] })
      const off = client.feed.subscribe({ topic }, onMessage)
      // A subscription that failed (connection-storm retries it) leaves no client behind.
      await off.ready.catch(async (/** @type {unknown} */ failure) => {
        await client.close()
        throw failure
      })
      return { close: () => client.close() }
    },
    async publisher(url, topic) {
      const client = createClient(api, { url, WebSocket, encodings: [clientCodecs[encoding]] })
      await client.connect()
      return { publish: (payload) => client.feed.publish({ topic }, payload), close: () => client.close() }
    },
    stall(url, topic) {
      // A bare socket speaking the wire protocol (docs/protocol.md §3, §12): Patchbay's client
      // would take the silence of a paused socket for a dead server and reconnect.
      const sub = codec.encode([Tag.SUB, 1, 'feed', null, { topic }])
      return openStalled(url, `patchbay.v1.${encoding}`, sub, (data) => {
        const message = codec.decode(data)
        // [2, 1, { ch, seq, epoch }] confirms it; [3, 1, error] refuses it.
        if (!Array.isArray(message) || message[1] !== 1) return false
        if (message[0] !== Tag.RESULT) throw new Error(`sub answered ${JSON.stringify(message)}`)
        return true
      })
    },
    async streams(url) {
      const client = createClient(api, { url, WebSocket, encodings: [clientCodecs[encoding]] })
      await client.connect()
      return {
        credit: true,
        open({ count, credit }, onItem) {
          const abort = new AbortController()
          const items = client.ticks({ count }, credit === undefined ? { signal: abort.signal } : { credit, signal: abort.signal })
          const ended = (async () => {
            for await (const item of items) onItem(item)
          })()
          return { stop: () => abort.abort(), ended }
        },
        close: () => client.close(),
      }
    },
  }
}
