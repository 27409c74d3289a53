/**
 * The adapter seam: what every transport adapter shares (adapters/ws.ts for sockets,
 * adapters/memory.ts for the in-memory pair of `@patchbay/server/testing`). An adapter turns
 * its own kind of connection into a {@link Transport} and hands it here; the host opens the
 * session, lists it, counts it, and closes it, the same way whatever carries the frames.
 * Runtime-free.
 */
import type { Codec, Encoding, RouterDef } from '@patchbay/core'
import { Session, type SessionConfig, type Transport } from './connection.js'
import type { ConnectionRegistry, OpenConnection } from './connections.js'
import type { ConnectionInfo, HandshakeInfo } from './types.js'

/**
 * An adapter's transport, as the server's shutdown closes it. The transport itself, not a
 * closure per connection: an idle connection should cost one small object.
 */
export interface ClosableTransport extends Transport {
  /** Closes the connection with `code` and `reason`; resolves once it has closed. */
  shutdown(code: number, reason: string): Promise<void>
}

/** What a host needs from createServer. */
export interface SessionHostOptions {
  readonly api: RouterDef
  readonly config: SessionConfig
  readonly encodings: readonly Encoding[]
  readonly context: ((info: HandshakeInfo) => unknown) | undefined
  readonly registry: ConnectionRegistry
  readonly maxConnections: number
  /** How long a connection the server closes may take to finish the closing handshake (ms). */
  readonly closeTimeout: number
  readonly onClose: ((event: { connection: ConnectionInfo; ctx: unknown; code: number; reason: string }) => void) | undefined
}

/** The open sessions of one server, whatever transport each came in on. */
export class SessionHost {
  private readonly open = new Map<Session, ClosableTransport>()
  /** Set by the server's close(): no adapter opens a session after it. */
  closing = false

  constructor(readonly options: SessionHostOptions) {}

  get config(): SessionConfig {
    return this.options.config
  }

  /** Open sessions. */
  get size(): number {
    return this.open.size
  }

  /**
   * Opens a session on `transport`, listed in `server.connections()` until the adapter
   * reports its close with {@link closed}. Returns its record (the session, its context, when
   * it opened), which the adapter may keep rather than a copy of its own.
   */
  accept(transport: ClosableTransport, codec: Codec, ctx: unknown, info: ConnectionInfo, remoteAddress: string | undefined): OpenConnection {
    this.config.stats.connections++
    const session = new Session(this.config, transport, codec, ctx, info)
    this.open.set(session, transport)
    this.config.instrumentation?.connectionOpen?.(session.info)
    return this.options.registry.add(session, ctx, remoteAddress)
  }

  /** The transports of the open sessions (adapters/ws.ts pings its own sockets among them). */
  transports(): IterableIterator<ClosableTransport> {
    return this.open.values()
  }

  /** The adapter's connection closed with `code` and `reason`: the session ends, `onClose` runs. */
  closed(session: Session, ctx: unknown, code: number, reason: string): void {
    this.open.delete(session)
    this.options.registry.delete(session)
    session.handleClose()
    this.config.instrumentation?.connectionClose?.(session.info, code)
    try {
      this.options.onClose?.({ connection: session.info, ctx, code, reason })
    } catch (error) {
      // A failing cleanup hook must not take the process down with the connection.
      this.config.onError?.(error, { path: '(onClose)', connectionId: session.info.id })
    }
  }

  /** Resolves when no session has a call in flight, or after `timeout` ms, whichever is first. */
  async idle(timeout: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      Promise.all([...this.open.keys()].map((session) => session.idle())),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeout)
      }),
    ])
    clearTimeout(timer)
  }

  /** Closes every open session through its adapter; resolves once all have closed. */
  async closeAll(code: number, reason: string): Promise<void> {
    await Promise.all([...this.open.values()].map((transport) => transport.shutdown(code, reason)))
  }
}

/** Each server's host, for the adapters that reach a server after it was made (testing.ts). */
const hosts = new WeakMap<object, SessionHost>()

/** Records `host` as the one behind `server`. */
export function registerHost(server: object, host: SessionHost): void {
  hosts.set(server, host)
}

/** The host behind `server`; a TypeError for anything createServer did not make. */
export function hostOf(server: object): SessionHost {
  const host = hosts.get(server)
  if (host === undefined) throw new TypeError('Expected a server made by createServer from @patchbay/server')
  return host
}
