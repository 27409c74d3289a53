// socket.io 4 with socket.io-msgpack-parser, websocket transport only.
import parser from 'socket.io-msgpack-parser'
import { serveSocketIo } from '../lib/socketio-server.js'

await serveSocketIo(parser)
