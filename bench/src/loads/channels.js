/**
 * The load of the many-channels run (scale-channels.js): `connections` sockets spread round
 * robin over the nodes, each subscribed to `perConnection` consecutive channels of
 * `channels` (so each channel has connections × perConnection / channels subscribers, on
 * different connections and mostly on both nodes), and `publishers` publishers per node
 * publishing round robin over every channel at `rate` publishes/s in all.
 *
 * Steps, driven by the runner over IPC so it can read each node's memory between them:
 * `connected` (sockets open, nothing subscribed) → `subscribe` → `subscribed` (with how many
 * distinct channels each node holds) → `publish` → marks on request (`mark`: messages
 * delivered and published so far, this process's CPU time) → `stop` → result.
 */
import WebSocket from 'ws'
import { createClient } from '@patchbay/client'
import { clientCodecs } from '../lib/client-codecs.js'
import { io } from 'socket.io-client'
import parser from 'socket.io-msgpack-parser'
import { api } from '../lib/patchbay-api.js'
import { emit, hardCap, nextMessage, now, readParams } from '../lib/child-io.js'

const p = readParams()
hardCap(p.capMs ?? 180_000, 'channels load')

/**
 * @typedef {object} Conn
 * @property {(channel: string, onMessage: () => void) => Promise<void>} subscribe resolves once live
 * @property {(channel: string, payload: { seq: number, body: string }) => unknown} publish
 * @property {() => void} close
 */

/** @type {(url: string) => Promise<Conn>} */
const open =
  p.system === 'patchbay'
    ? async (url) => {
        const client = createClient(api, { url, WebSocket, encodings: [clientCodecs.msgpack] })
        await client.connect()
        return {
          subscribe: (channel, onMessage) => client.feed.subscribe({ topic: channel }, onMessage).ready,
          publish: (channel, payload) => client.feed.publish({ topic: channel }, payload),
          close: () => void client.close(),
        }
      }
    : async (url) => {
        const socket = io(url.replace(/^ws:/, 'http:'), { transports: ['websocket'], forceNew: true, reconnection: false, parser })
        await new Promise((resolve, reject) => {
          socket.once('connect', () => resolve(undefined))
          socket.once('connect_error', reject)
        })
        // One `msg` listener per socket; every room's broadcast arrives through it.
        /** @type {(() => void) | undefined} */
        let deliver
        socket.on('msg', () => deliver?.())
        return {
          subscribe: (channel, onMessage) =>
            new Promise((resolve) => {
              deliver = onMessage
              socket.emit('join', channel, () => resolve(undefined))
            }),
          publish: (channel, payload) => void socket.emit('pub', channel, payload),
          close: () => void socket.disconnect(),
        }
      }

/** Runs `task(i)` for i in [0, n), `concurrency` at a time, within `maxMs`. */
async function pool(/** @type {number} */ n, /** @type {number} */ concurrency, /** @type {number} */ maxMs, /** @type {(i: number) => Promise<void>} */ task) {
  let next = 0
  let done = 0
  const t0 = now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n && now() - t0 < maxMs) {
        await task(next++)
        done++
      }
    }),
  )
  if (done < n) throw new Error(`${done} of ${n} done in ${maxMs} ms`)
}

try {
  const urls = /** @type {number[]} */ (p.ports).map((port) => `ws://127.0.0.1:${port}`)
  /** @type {Conn[]} */
  const conns = new Array(p.connections)
  await pool(p.connections, p.openConcurrency, p.openMs, async (i) => {
    conns[i] = await open(/** @type {string} */ (urls[i % urls.length]))
  })
  emit({ event: 'connected', connections: conns.length })
  await nextMessage('subscribe', p.capMs)

  let delivered = 0
  const onMessage = () => delivered++
  /** @type {Set<number>[]} distinct channels held per node */
  const held = urls.map(() => new Set())
  await pool(p.connections, p.openConcurrency, p.openMs, async (i) => {
    const conn = /** @type {Conn} */ (conns[i])
    // Distinct channels only (fewer than perConnection when there are fewer channels).
    for (let k = 0; k < Math.min(p.perConnection, p.channels); k++) {
      const channel = (i * p.perConnection + k) % p.channels
      held[i % urls.length]?.add(channel)
      await conn.subscribe(`ch${channel}`, onMessage)
    }
  })
  emit({ event: 'subscribed', subscriptions: p.connections * Math.min(p.perConnection, p.channels), heldPerNode: held.map((s) => s.size) })
  await nextMessage('publish', p.capMs)

  // Publishers: `publishers` per node, round robin over every channel, paced per tick.
  const publishers = await Promise.all(Array.from({ length: p.publishers * urls.length }, (_, i) => open(/** @type {string} */ (urls[i % urls.length]))))
  let published = 0
  let failures = 0
  let running = true
  const body = 'x'.repeat(p.bodyBytes)
  const t0 = now()
  const tick = () => {
    if (!running) return
    const due = Math.floor(((now() - t0) / 1000) * p.rate)
    // At most a tick's worth and a half, so a stalled timer does not become a burst.
    for (let n = 0; published < due && n < (p.rate * p.tickMs * 1.5) / 1000; n++) {
      const i = published++
      const result = /** @type {Conn} */ (publishers[i % publishers.length]).publish(`ch${i % p.channels}`, { seq: i, body })
      if (result instanceof Promise) result.catch(() => failures++)
    }
    setTimeout(tick, p.tickMs)
  }
  tick()
  const onMark = (/** @type {any} */ message) => {
    if (message?.type !== 'mark') return
    const { user, system } = process.cpuUsage()
    process.send?.({ type: 'mark', delivered, published, cpuUs: user + system, at: now() })
  }
  process.on('message', onMark)
  emit({ event: 'publishing' })
  await nextMessage('stop', p.capMs)
  running = false
  process.off('message', onMark)
  for (const c of [...publishers, ...conns]) c.close()
  emit({ event: 'result', published, delivered, failures })
  process.exit(0)
} catch (error) {
  emit({ event: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) })
  process.exit(1)
}
