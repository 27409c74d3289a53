/**
 * socket.io-client 4, websocket transport only, one Manager per socket (forceNew).
 */
import { io } from 'socket.io-client'

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
      socket.once('connect_error', reject)
    })
    return socket
  }
  return {
    async connect(url) {
      const socket = await open(url)
      return {
        add: (a, b) => new Promise((resolve) => socket.emit('add', a, b, resolve)),
        close: () => void socket.disconnect(),
      }
    },
    async subscribe(url, topic, onMessage) {
      const socket = await open(url)
      socket.on('msg', onMessage)
      await new Promise((resolve) => socket.emit('join', topic, resolve))
      return { close: () => void socket.disconnect() }
    },
    async publisher(url, topic) {
      const socket = await open(url)
      return { publish: (payload) => void socket.emit('pub', topic, payload), close: () => void socket.disconnect() }
    },
  }
}
