/**
 * socket.io 4 server, websocket transport only: `add` answers through an ack, `join` puts
 * the socket in a room, `pub` broadcasts to the room (rooms are socket.io's topics).
 */
import { createServer } from 'node:http'
import { Server } from 'socket.io'
import { serve } from './server-main.js'

/** @param {unknown} [parser] socket.io-msgpack-parser, or undefined for the default JSON parser */
export function serveSocketIo(parser) {
  return serve(
    () =>
      new Promise((resolve) => {
        const http = createServer()
        const io = new Server(http, { transports: ['websocket'], serveClient: false, ...(parser ? { parser } : {}) })
        io.on('connection', (socket) => {
          socket.on('add', (a, b, ack) => ack(a + b))
          socket.on('join', (room, ack) => {
            void socket.join(room)
            ack(true)
          })
          socket.on('pub', (room, payload) => {
            socket.to(room).emit('msg', payload)
          })
        })
        http.listen(0, '127.0.0.1', () => resolve(/** @type {import('node:net').AddressInfo} */ (http.address()).port))
      }),
  )
}
