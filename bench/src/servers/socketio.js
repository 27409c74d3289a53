// socket.io 4 with its default (JSON) parser, websocket transport only.
import { serveSocketIo } from '../lib/socketio-server.js'

await serveSocketIo()
