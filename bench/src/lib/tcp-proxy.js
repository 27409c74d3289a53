/**
 * A loopback TCP proxy with a target that can be switched, standing in for a load balancer
 * in the resume storm (scale-storm.js): clients keep one URL, the proxy decides which node a
 * new connection reaches. When a node dies, the proxy ends the client's side of each of its
 * connections, so clients see the drop as they would behind a real balancer; it never
 * retries a connection on another node itself (a client's reconnect does that).
 */
import { connect, createServer } from 'node:net'

/**
 * @typedef {object} TcpProxy
 * @property {number} port where clients connect (127.0.0.1)
 * @property {(port: number) => void} retarget new connections go to this port from now on
 * @property {() => number} open connections currently piped
 * @property {() => Promise<void>} close stops listening and destroys every connection
 */

/**
 * @param {number} target the first node's port on 127.0.0.1
 * @returns {Promise<TcpProxy>}
 */
export function startTcpProxy(target) {
  let current = target
  /** @type {Set<import('node:net').Socket>} */
  const sockets = new Set()
  const server = createServer({ noDelay: true }, (downstream) => {
    const upstream = connect({ port: current, host: '127.0.0.1', noDelay: true })
    sockets.add(downstream)
    sockets.add(upstream)
    // Either side ending or failing ends both: a dead node's clients see their socket close.
    const end = () => {
      downstream.destroy()
      upstream.destroy()
      sockets.delete(downstream)
      sockets.delete(upstream)
    }
    for (const socket of [downstream, upstream]) {
      socket.once('close', end)
      socket.once('error', end)
    }
    downstream.pipe(upstream)
    upstream.pipe(downstream)
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = /** @type {import('node:net').AddressInfo} */ (server.address())
      resolve({
        port: address.port,
        retarget: (port) => (current = port),
        open: () => sockets.size / 2,
        close: () =>
          new Promise((done) => {
            for (const socket of sockets) socket.destroy()
            sockets.clear()
            server.close(() => done(undefined))
          }),
      })
    })
  })
}
