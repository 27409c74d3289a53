/**
 * The clients of the resume storm (scale-storm.js), one adapter per system: a subscriber
 * that stays subscribed across a reconnect the way its system's docs show, and a publisher.
 * - Patchbay: its own client, default reconnect (backoff 50–250 ms for the first retry);
 *   subscriptions are made again with `resume` from the last seq (§12.1) by the client.
 * - socket.io: socket.io-client with its default reconnection (first retry after
 *   500–1500 ms); rooms do not survive a reconnect, so the client joins again on every
 *   `connect` unless socket.io says the connection state was recovered (`socket.recovered`,
 *   only with the streams adapter's connection state recovery).
 */
import WebSocket from 'ws'
import { createClient } from '@patchbay/client'
import { clientCodecs } from './client-codecs.js'
import { io } from 'socket.io-client'
import parser from 'socket.io-msgpack-parser'
import { api } from './patchbay-api.js'

/** @typedef {{ seq: number, body: string }} Payload */

/**
 * @typedef {object} StormSubscriber
 * @property {() => number} reconnects connections made after the first
 * @property {() => number} recovered reconnects the server said it recovered (socket.io)
 * @property {() => void} close
 */

/**
 * @typedef {object} StormAdapter
 * @property {(url: string, channel: string, onMessage: (payload: Payload) => void, onLag: (missed: number | undefined) => void) => Promise<StormSubscriber>} subscribe
 *   resolves once the subscription is live on the server
 * @property {(url: string) => Promise<{ publish: (channel: string, payload: Payload) => Promise<unknown> | undefined, close: () => void }>} publisher
 */

/** @returns {StormAdapter} */
export function patchbayStorm() {
  return {
    async subscribe(url, channel, onMessage, onLag) {
      const client = createClient(api, { url, WebSocket, encodings: [clientCodecs.msgpack] })
      let opens = 0
      client.on('state', (event) => event.state === 'open' && opens++)
      const off = client.feed.subscribe({ topic: channel }, (message) => onMessage(message), { onLag: (lag) => onLag(lag.missed) })
      await off.ready
      return { reconnects: () => Math.max(0, opens - 1), recovered: () => 0, close: () => void client.close() }
    },
    async publisher(url) {
      const client = createClient(api, { url, WebSocket, encodings: [clientCodecs.msgpack] })
      await client.connect()
      return { publish: (channel, payload) => client.feed.publish({ topic: channel }, payload), close: () => void client.close() }
    },
  }
}

/**
 * @param {{ reconnectionDelay: number, randomizationFactor: number } | undefined} [backoff]
 *   socket.io-client's reconnection delay (default 1000 ± 50%); `{ 150, 2/3 }` draws the first
 *   retry from 50–250 ms, as Patchbay's client does
 * @returns {StormAdapter}
 */
export function socketIoStorm(backoff) {
  return {
    subscribe(url, channel, onMessage) {
      const socket = io(url.replace(/^ws:/, 'http:'), { transports: ['websocket'], forceNew: true, parser, ...backoff })
      let connects = 0
      let recovered = 0
      socket.on('msg', onMessage)
      return new Promise((resolve, reject) => {
        socket.on('connect', () => {
          connects++
          if (socket.recovered) {
            recovered++
            return
          }
          socket.emit('join', channel, () => {
            if (connects === 1) resolve({ reconnects: () => connects - 1, recovered: () => recovered, close: () => void socket.disconnect() })
          })
        })
        socket.once('connect_error', (error) => connects === 0 && reject(error))
      })
    },
    async publisher(url) {
      const socket = io(url.replace(/^ws:/, 'http:'), { transports: ['websocket'], forceNew: true, parser })
      await new Promise((resolve, reject) => {
        socket.once('connect', () => resolve(undefined))
        socket.once('connect_error', reject)
      })
      return { publish: (channel, payload) => void socket.emit('pub', channel, payload), close: () => void socket.disconnect() }
    },
  }
}
