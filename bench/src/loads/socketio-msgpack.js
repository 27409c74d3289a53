// socket.io 4 with socket.io-msgpack-parser, websocket transport only.
import parser from 'socket.io-msgpack-parser'
import { socketIoAdapter } from '../lib/socketio-client.js'
import { runLoad } from '../lib/load-main.js'

await runLoad(socketIoAdapter(parser))
