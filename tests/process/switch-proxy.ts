/**
 * A TCP proxy in the test process whose route can change while it runs: to a port (every
 * new connection is piped there) or to nowhere, a blackhole that accepts TCP and never
 * answers, as a route to a dead host behind a load balancer does. Connections already
 * made keep their route. Real sockets on 127.0.0.1.
 */
import net from 'node:net'

/** A connection the blackhole accepted, and when its peer gave up on it. */
export interface HeldConnection {
  readonly acceptedAt: number
  closedAt: number | undefined
}

export interface SwitchProxy {
  readonly port: number
  /** Routes new connections to `port`, or into the blackhole (`undefined`). */
  route(port: number | undefined): void
  /** Connections the blackhole accepted, in order. */
  readonly held: readonly HeldConnection[]
  /** Connections piped to a target, in order. */
  readonly forwarded: number
  close(): Promise<void>
}

/** Starts a proxy on 127.0.0.1, port 0, routed to `target` (the blackhole when undefined). */
export async function startSwitchProxy(target: number | undefined): Promise<SwitchProxy> {
  let current = target
  let forwarded = 0
  const held: HeldConnection[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((downstream) => {
    sockets.add(downstream)
    downstream.on('close', () => sockets.delete(downstream))
    downstream.on('error', () => downstream.destroy())
    if (current === undefined) {
      const entry: HeldConnection = { acceptedAt: performance.now(), closedAt: undefined }
      held.push(entry)
      // Read and drop the request, answer nothing; note when the client hangs up.
      downstream.on('data', () => {})
      downstream.on('close', () => (entry.closedAt = performance.now()))
      return
    }
    forwarded++
    const upstream = net.connect(current, '127.0.0.1')
    sockets.add(upstream)
    const end = (): void => {
      downstream.destroy()
      upstream.destroy()
    }
    upstream.on('close', () => sockets.delete(upstream))
    for (const socket of [downstream, upstream]) {
      socket.setNoDelay(true)
      socket.on('error', end)
      socket.on('close', end)
    }
    downstream.pipe(upstream)
    upstream.pipe(downstream)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address() as net.AddressInfo
  return {
    port: address.port,
    route: (port) => (current = port),
    held,
    get forwarded() {
      return forwarded
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}
