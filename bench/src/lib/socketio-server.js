/**
 * socket.io 4 server, websocket transport only: `add` answers through an ack, `join` puts
 * the socket in a room, `pub` broadcasts to the room (rooms are socket.io's topics), and
 * `stream` emits `item` events until `stop` (stream-throughput).
 */
import { createServer } from 'node:http'
import { Server } from 'socket.io'
import { LISTEN_BACKLOG, serve } from './server-main.js'
import { STREAM_BATCH, STREAM_HIGH_WATER, streamItem } from './stream-item.js'

/** @param {unknown} [parser] socket.io-msgpack-parser, or undefined for the default JSON parser */
export function serveSocketIo(parser) {
  return serve(async (params) => {
    // The Redis scale-out runs (scale-redis.js): every node on one Redis through
    // @socket.io/redis-adapter, with the ioredis client its docs show (one publishing and
    // one subscribing connection). Imported only then, so the other scenarios run without it.
    // scale-storm.js runs socket.io's streams adapter too (`sioAdapter: 'streams'`), the one
    // that offers connection state recovery, with recovery on as its docs show.
    const streams = params.sioAdapter === 'streams'
    const adapter = typeof params.redisUrl === 'string' ? await (streams ? streamsAdapter(params.redisUrl) : redisAdapter(params.redisUrl)) : undefined
    return new Promise((resolve) => {
      const batch = params.batch ?? STREAM_BATCH
      // socket.io has no flow control of its own. engine.io queues packets in the
      // connection's write buffer while the websocket is busy with the previous batch and
      // hands them over (events 'flush', then 'drain') once ws has written that to the
      // kernel. The producer counts the packets waiting there (public events: each packet
      // is announced by 'packetCreate', 'flush' takes them all) against the same ~1 MiB as
      // the raw ws producers, in packets of one encoded item (socket.io counts no bytes).
      const itemBytes = Buffer.byteLength(JSON.stringify(['item', streamItem(1_000_000)])) + 2
      const highWaterPackets = Math.max(1, Math.floor((params.highWater ?? STREAM_HIGH_WATER) / itemBytes))
      const http = createServer()
      const io = new Server(http, {
        transports: ['websocket'],
        serveClient: false,
        // large-messages: a 1 MiB payload is over the default maxHttpBufferSize (1e6 bytes).
        ...(typeof params.maxPayload === 'number' ? { maxHttpBufferSize: params.maxPayload } : {}),
        ...(parser ? { parser } : {}),
        // socket.io's default window (2 minutes) for a client to come back and recover.
        ...(streams ? { connectionStateRecovery: { maxDisconnectionDuration: 120_000 } } : {}),
      })
      if (adapter !== undefined) io.adapter(adapter)
      io.on('connection', (socket) => {
        socket.on('add', (a, b, ack) => ack(a + b))
        socket.on('echo', (payload, ack) => ack(payload))
        socket.on('join', (room, ack) => {
          void socket.join(room)
          ack(true)
        })
        socket.on('pub', (room, payload) => {
          socket.to(room).emit('msg', payload)
        })
        /** @type {object | undefined} the running stream; replaced or cleared to stop it */
        let current
        /** Packets in engine.io's write buffer; counted once a stream asked for it. */
        let waiting = 0
        let counting = false
        socket.on('stream', (count) => {
          const self = {}
          current = self
          let n = 0
          const conn = socket.conn
          if (!counting) {
            counting = true
            conn.on('packetCreate', () => waiting++)
            conn.on('flush', () => (waiting = 0))
          }
          const pump = () => {
            if (current !== self || !socket.connected) return
            for (let i = 0; i < batch && n < count && waiting < highWaterPackets; i++, n++) {
              socket.emit('item', streamItem(n))
            }
            if (n >= count) {
              current = undefined
              socket.emit('end', n)
            } else if (waiting < highWaterPackets) setImmediate(pump)
            else conn.once('drain', pump)
          }
          pump()
        })
        socket.on('stop', () => (current = undefined))
      })
      http.listen({ port: 0, host: '127.0.0.1', backlog: LISTEN_BACKLOG }, () => resolve(/** @type {import('node:net').AddressInfo} */ (http.address()).port))
    })
  })
}

/**
 * socket.io's Redis adapter on `url`.
 * @param {string} url
 */
async function redisAdapter(url) {
  const [{ createAdapter }, { Redis }] = await Promise.all([import('@socket.io/redis-adapter'), import('ioredis')])
  const pub = new Redis(url)
  const sub = pub.duplicate()
  return createAdapter(pub, sub)
}

/**
 * socket.io's Redis Streams adapter on `url` (one ioredis client, as its docs show): it
 * keeps the broadcasts in one Redis stream that every node reads, and the sessions of
 * disconnected sockets in Redis, so a client may recover its rooms and missed packets.
 * @param {string} url
 */
async function streamsAdapter(url) {
  const [{ createAdapter }, { Redis }] = await Promise.all([import('@socket.io/redis-streams-adapter'), import('ioredis')])
  return createAdapter(new Redis(url))
}
