/**
 * The in-memory pair: `@patchbay/client` connected to a server through adapters/memory.ts,
 * so a test runs the real client and the real sessions, topics, streams and backpressure
 * included, with no port. `connectInMemory` gives the WebSocket class (any client can use it);
 * `createTestPair` makes the client too.
 */
import type { Encoding, RouterDef } from '@patchbay/core'
import type { Client, ClientOptions } from '@patchbay/client'
import { msgpackCodec } from '@patchbay/core/msgpack'
import type { MemoryConnection, MemoryHandshake } from '../adapters/memory.js'
import { MemoryWebSocket } from '../adapters/memory-socket.js'
import type { Engine } from '../engine.js'
import { hostOf } from '../session-host.js'
import type { MaybePromise, PatchbayServer } from '../types.js'

/** Options of {@link connectInMemory}. */
export interface InMemoryOptions<TCtx> {
  /**
   * Every connection's context, as the server's `context` hook would make it (the hook itself
   * needs an HTTP request, which the pair does not have: test it over a socket).
   * @default undefined
   */
  ctx?: TCtx
  /**
   * Makes each connection's context from its handshake (the client's `token`, say), instead
   * of `ctx`. Throwing refuses the connection: the client sees 1006, as a browser does.
   * @default none: every connection gets `ctx`
   */
  context?: (handshake: MemoryHandshake) => MaybePromise<TCtx>
  /**
   * Bytes each direction holds for a reader that does not read, before the writer's
   * `bufferedAmount` grows: what a socket's kernel buffers take. 0 counts every unread byte.
   * @default 65_536
   */
  networkBuffer?: number
}

/** The in-memory network of one server: a WebSocket class for clients, and its connections. */
export interface InMemoryNetwork {
  /** Pass as the client's `WebSocket` option. */
  readonly WebSocket: new (url: string, protocols?: string | string[]) => MemoryWebSocket
  /** A URL for the client's `url` option (the pair ignores it; any string works). */
  readonly url: string
  /** Every connection opened so far, oldest first. */
  readonly connections: readonly MemoryConnection[]
  /** The connection opened last, if any. */
  readonly current: MemoryConnection | undefined
  /** Resolves with the next connection to open (a reconnect's, say). */
  nextConnection(): Promise<MemoryConnection>
}

/** The default of {@link InMemoryOptions.networkBuffer}. */
export const DEFAULT_NETWORK_BUFFER = 65_536

/** A WebSocket class whose connections go to `server`'s sessions in memory. */
export function connectInMemory<E extends Engine, TCtx, R extends RouterDef>(server: PatchbayServer<E, TCtx, R>, options: InMemoryOptions<TCtx> = {}): InMemoryNetwork {
  const host = hostOf(server)
  const networkBuffer = options.networkBuffer ?? DEFAULT_NETWORK_BUFFER
  if (!Number.isSafeInteger(networkBuffer) || networkBuffer < 0) throw new RangeError('networkBuffer must be a non-negative integer')
  const connections: MemoryConnection[] = []
  let waiters: ((connection: MemoryConnection) => void)[] = []
  const context = options.context ?? (() => options.ctx)
  const adapter = {
    context,
    networkBuffer,
    opened: (connection: MemoryConnection) => {
      connections.push(connection)
      const waiting = waiters
      waiters = []
      for (const resolve of waiting) resolve(connection)
    },
  }
  class PairWebSocket extends MemoryWebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, host, adapter)
    }
  }
  return {
    WebSocket: PairWebSocket,
    url: 'memory://patchbay',
    connections,
    get current() {
      return connections[connections.length - 1]
    },
    nextConnection: () => new Promise((resolve) => waiters.push(resolve)),
  }
}

/** Options of {@link createTestPair}. */
export interface TestPairOptions<TCtx> extends InMemoryOptions<TCtx> {
  /** The encoding the client offers (only it), so a suite runs once per encoding. */
  encoding: Encoding
  /**
   * More options for the client (`timeout`, `reconnect`, `token`…).
   * @default the client's defaults
   */
  client?: Omit<ClientOptions, 'url' | 'WebSocket' | 'encodings'>
}

/** A client connected to a server in memory. */
export interface TestPair<R extends RouterDef> {
  /** A real `@patchbay/client`, open. */
  readonly client: Client<R>
  /** Its first connection: stall, resume or drop it. */
  readonly connection: MemoryConnection
  /** All of its connections (reconnects included). */
  readonly network: InMemoryNetwork
  /** Closes the client; resolves once it has closed. */
  close(): Promise<void>
}

/**
 * A real `@patchbay/client` for `server`, connected in memory with `encoding`; resolves once
 * open. Needs `@patchbay/client` installed (an optional peer dependency of the server).
 */
export async function createTestPair<E extends Engine, TCtx, R extends RouterDef>(server: PatchbayServer<E, TCtx, R>, options: TestPairOptions<TCtx>): Promise<TestPair<R>> {
  const { client: clientOptions, encoding, ...memory } = options
  const network = connectInMemory(server, memory)
  // Loaded when asked for: createCaller's users need no client installed.
  const { createClient } = await import('@patchbay/client')
  const opened = network.nextConnection()
  const client = createClient(hostOf(server).options.api as R, { ...clientOptions, url: network.url, WebSocket: network.WebSocket, encodings: [encoding === 'msgpack' ? msgpackCodec : 'json'] })
  await client.connect()
  const connection = await opened
  return { client, connection, network, close: () => client.close() }
}
