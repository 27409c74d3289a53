// socket.io 4 with its default (JSON) parser, websocket transport only.
import { socketIoAdapter } from '../lib/socketio-client.js'
import { runLoad } from '../lib/load-main.js'

await runLoad(socketIoAdapter())
