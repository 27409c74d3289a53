/**
 * socket.io-client 4, websocket transport only, one Manager per socket (forceNew).
 */
import { io } from 'socket.io-client'
import { stall } from './flow.js'

/** @typedef {import('./load-main.js').LoadAdapter} LoadAdapter */

/**
 * @param {unknown} [parser]
 * @returns {LoadAdapter}
 */
export function socketIoAdapter(parser) {
  /** @param {string} url */
  async function open(url) {
    const socket = io(url.replace(/^ws:/, 'http:'), {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      ...(parser ? { parser } : {}),
    })
    await new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(undefined))
      socket.once('connect_error', (error) => {
        // A failed attempt (connection-storm retries it) leaves no Manager behind.
        socket.disconnect()
        reject(error)
      })
    })
    return socket
  }
  return {
    async connect(url) {
      const socket = await open(url)
      return {
        add: (a, b) => new Promise((resolve) => socket.emit('add', a, b, resolve)),
        echo: (payload) => new Promise((resolve) => socket.emit('echo', payload, resolve)),
        close: () => void socket.disconnect(),
      }
    },
    async subscribe(url, topic, onMessage) {
      const socket = await open(url)
      socket.on('msg', onMessage)
      // A socket lost before the ack (connection-storm) fails the subscription.
      await new Promise((resolve, reject) => {
        socket.once('disconnect', (reason) => reject(new Error(`disconnected before the join's ack: ${reason}`)))
        socket.emit('join', topic, resolve)
      })
      return { close: () => void socket.disconnect() }
    },
    async publisher(url, topic) {
      const socket = await open(url)
      return { publish: (payload) => void socket.emit('pub', topic, payload), close: () => void socket.disconnect() }
    },
    async stall(url, topic) {
      // socket.io's own client, joined, then its engine.io websocket (a `ws` WebSocket in
      // Node; `transport.ws` is engine.io-client's field for it) stops being read. Nothing
      // in the 3 s window would notice: engine.io's heartbeat allows 45 s of silence.
      const socket = await open(url)
      await new Promise((resolve) => socket.emit('join', topic, resolve))
      const ws = /** @type {any} */ (socket.io.engine.transport).ws
      if (typeof ws?.pause !== 'function') throw new Error('engine.io-client has no ws socket to pause')
      return stall(ws)
    },
    async streams(url) {
      const socket = await open(url)
      return {
        credit: false,
        open({ count }, onItem) {
          let done = false
          socket.on('item', onItem)
          const ended = new Promise((resolve, reject) => {
            socket.once('end', () => {
              done = true
              resolve(undefined)
            })
            socket.once('disconnect', (reason) => done || reject(new Error(`disconnected during the stream: ${reason}`)))
          })
          socket.emit('stream', count)
          return {
            stop() {
              done = true
              socket.off('item', onItem)
              socket.emit('stop')
            },
            ended: /** @type {Promise<void>} */ (ended),
          }
        },
        close: () => void socket.disconnect(),
      }
    },
  }
}
