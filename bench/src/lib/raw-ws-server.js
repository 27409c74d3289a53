/**
 * The raw ws baseline server: one ws.WebSocketServer, the hand-written envelope, and a
 * topic table for fan-out. `cork` selects one write per message or one per tick.
 */
import { WebSocketServer } from 'ws'
import { corkedSend, envelopeCodecs, plainSend } from './envelope.js'
import { serve } from './server-main.js'

/**
 * @param {'json' | 'msgpack'} encoding
 * @param {boolean} cork
 */
export function serveRawWs(encoding, cork) {
  const codec = envelopeCodecs[encoding]
  const send = cork ? corkedSend : plainSend
  /** @type {Map<string, Set<import('ws').WebSocket>>} */
  const topics = new Map()

  return serve(
    () =>
      new Promise((resolve) => {
        const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' }, () => {
          resolve(/** @type {import('node:net').AddressInfo} */ (wss.address()).port)
        })
        wss.on('connection', (ws) => {
          ws.on('message', (data) => {
            const message = codec.decode(/** @type {Buffer} */ (data))
            switch (message.m) {
              case 'add':
                send(ws, codec.encode({ id: message.id, r: message.a[0] + message.a[1] }))
                break
              case 'sub': {
                const topic = String(message.a[0])
                let members = topics.get(topic)
                if (members === undefined) topics.set(topic, (members = new Set()))
                members.add(ws)
                ws.once('close', () => members.delete(ws))
                send(ws, codec.encode({ id: message.id, r: true }))
                break
              }
              case 'pub': {
                const members = topics.get(String(message.a[0]))
                if (members === undefined) break
                // Encoded once, written to every subscriber: what a hand-rolled broadcast does.
                const frame = codec.encode({ t: message.a[0], d: message.a[1] })
                for (const member of members) send(member, frame)
                break
              }
            }
          })
        })
      }),
  )
}
