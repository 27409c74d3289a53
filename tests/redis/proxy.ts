/**
 * A TCP proxy (node:net) to a redis-server on 127.0.0.1, between an engine and Redis, that can
 * fail the connections it carries the ways a network or a loaded Redis does: blackhole one
 * (both sockets open, nothing passes: liveness.test.ts) or hold back what the engine sends on
 * one for a while (a reply that comes later than the command timeout: resubscribe.test.ts).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net'

/** One connection through the proxy. */
export interface Pair {
  readonly client: Socket
  readonly upstream: Socket
  /** It sent a SUBSCRIBE: the engine's subscriber connection. */
  subscriber: boolean
  /** Blackholed: bytes in either direction are dropped, both sockets stay open. */
  dead: boolean
  /** PUBLISHes to a probe channel it carried (the command connection's). */
  probes: number
  /** While held: the client→server bytes kept back, in order (forwarded when the hold ends). */
  held: Buffer[] | undefined
}

/** A hold waiting for the client→server chunk that starts it. */
interface Trap {
  readonly match: (text: string) => boolean
  readonly ms: number
  readonly started: (pair: Pair) => void
}

export class FaultProxy {
  /** Every connection it carried, in order. */
  readonly pairs: Pair[] = []
  private trap: Trap | undefined
  private server: Server | undefined
  private listening = 0

  private constructor(private readonly target: number) {}

  /** A proxy on a free loopback port to the redis-server on `target`. */
  static async start(target: number): Promise<FaultProxy> {
    const proxy = new FaultProxy(target)
    // allowHalfOpen: a FIN from the engine gets no FIN back through a dead route either.
    const server = createServer({ allowHalfOpen: true }, (client) => proxy.carry(client))
    proxy.server = server
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const address = server.address()
    if (typeof address !== 'object' || address === null) throw new Error('no port')
    proxy.listening = address.port
    return proxy
  }

  get port(): number {
    return this.listening
  }

  /** Stops forwarding the bytes of the pairs `which` picks (both sockets stay open); returns how many. */
  blackhole(which: (pair: Pair) => boolean): number {
    const picked = this.pairs.filter((pair) => !pair.dead && which(pair))
    for (const pair of picked) pair.dead = true
    return picked.length
  }

  /**
   * The next client→server chunk (of any pair) whose text `match`es, and everything its pair
   * sends after it, is kept back for `ms`, then forwarded in order (unless the pair closed
   * meanwhile); once. Resolves with the pair when the hold starts.
   */
  holdNext(match: (text: string) => boolean, ms: number): Promise<Pair> {
    return new Promise((resolve) => {
      this.trap = { match, ms, started: resolve }
    })
  }

  async close(): Promise<void> {
    this.trap = undefined
    for (const pair of this.pairs) {
      pair.client.destroy()
      pair.upstream.destroy()
    }
    await new Promise((resolve) => this.server?.close(resolve))
  }

  private carry(client: Socket): void {
    const upstream = createConnection({ port: this.target, host: '127.0.0.1', allowHalfOpen: true })
    const pair: Pair = { client, upstream, subscriber: false, dead: false, probes: 0, held: undefined }
    this.pairs.push(pair)
    client.on('data', (bytes: Buffer) => {
      const text = bytes.toString('latin1')
      if (/subscribe/i.test(text)) pair.subscriber = true
      pair.probes += text.split('probe{').length - 1
      if (pair.dead) return
      if (pair.held !== undefined) {
        pair.held.push(bytes)
        return
      }
      const trap = this.trap
      if (trap !== undefined && trap.match(text)) {
        this.trap = undefined
        pair.held = [bytes]
        setTimeout(() => this.release(pair), trap.ms)
        trap.started(pair)
        return
      }
      upstream.write(bytes)
    })
    upstream.on('data', (bytes: Buffer) => {
      if (!pair.dead) client.write(bytes)
    })
    // A live pair closes as a whole; a dead one keeps its other socket open, as a dead route would.
    const close = (): void => {
      if (pair.dead) return
      client.destroy()
      upstream.destroy()
    }
    for (const socket of [client, upstream]) {
      socket.on('error', close)
      socket.on('close', close)
      socket.on('end', close)
    }
  }

  private release(pair: Pair): void {
    const held = pair.held ?? []
    pair.held = undefined
    if (pair.dead || pair.upstream.destroyed) return
    for (const bytes of held) pair.upstream.write(bytes)
  }
}
