/**
 * The glue between the runtime-free session core and the `ws` package: the HTTP upgrade
 * (Origin, subprotocol, context hook), sockets, and write coalescing. The only file that
 * imports `ws` or `node:http`.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http'
import type { Duplex } from 'node:stream'
import { STATUS_CODES } from 'node:http'
import { WebSocketServer, type WebSocket } from 'ws'
import {
  CloseCode,
  ErrorCode,
  PatchbayError,
  negotiateSubprotocol,
  parseSubprotocolHeader,
  subprotocolOf,
  tokenFromSubprotocols,
  truncateCloseReason,
  type Frame,
} from '@patchbay/core'
import { codecForSubprotocol } from '../codecs.js'
import { connectionId } from '../connection-id.js'
import type { Session } from '../connection.js'
import type { OpenConnection } from '../connections.js'
import type { ClosableTransport, SessionHost } from '../session-host.js'
import { guardHandshakes, type GuardMode, type HandshakeGuard } from './handshake-timeout.js'
import { FrameCache, supportsDirectWrites, writeDirect } from './frames.js'
import { Heartbeat } from './heartbeat.js'
import { malformedUpgrade } from './upgrade-request.js'
import type { Engine } from '../engine.js'
import type { RefusalLevel, ServerLog } from '../log-events.js'
import type { AttachOptions, HandshakeInfo, ListenOptions, PatchbayServer } from '../types.js'

/** What the adapter needs from createServer. */
export interface WsAdapterOptions<E extends Engine = Engine> {
  /** The sessions, shared with any other adapter of the same server (session-host.ts). */
  host: SessionHost
  origins: readonly string[] | ((origin: string | undefined) => boolean) | undefined
  closeTimeout: number
  heartbeatInterval: number
  handshakeTimeout: number
  maxHandshakes: number
  publish: PatchbayServer<E>['publish']
  history: PatchbayServer<E>['history']
  publishTo: PatchbayServer<E>['publishTo']
  /** Where connections opened and closed, refusals and framing faults are logged (log-events.ts). */
  log: ServerLog
}

/** The close code `ws` sends for each framing fault it reports (its receiver's error codes). */
const WS_FAULT_CLOSE: Readonly<Record<string, number>> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: CloseCode.MESSAGE_TOO_BIG,
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: CloseCode.MESSAGE_TOO_BIG,
  WS_ERR_INVALID_UTF8: CloseCode.INVALID_PAYLOAD,
  WS_ERR_TOO_MANY_BUFFERED_PARTS: CloseCode.POLICY_VIOLATION,
}

/** HTTP status of a context-hook refusal, by error code. */
const REFUSAL_STATUS: Readonly<Record<string, number>> = {
  [ErrorCode.BAD_REQUEST]: 400,
  [ErrorCode.UNAUTHORIZED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.TOO_MANY_REQUESTS]: 429,
  [ErrorCode.RATE_LIMITED]: 429,
}

/** The part of `net.Socket` that write coalescing uses. */
interface Corkable {
  cork(): void
  uncork(): void
}

/** The part of `net.Socket` that drain detection uses. */
interface Drainable {
  readonly writableNeedDrain: boolean
  once(event: 'drain', listener: () => void): void
}

/** Creates the server object on `ws`. */
export function createWsAdapter<E extends Engine>(options: WsAdapterOptions<E>): PatchbayServer<E> {
  const { host } = options
  const { config, encodings, registry } = host.options
  const supported = encodings.map((encoding) => subprotocolOf[encoding]).join(', ')
  const ownServers: HttpServer[] = []
  /** Upgrades between the checks and a session (their context hooks running). */
  let upgrading = 0
  /** Each open socket's transport (which holds its connection's record), for its end and its faults. */
  const opened = new WeakMap<WebSocket, CoalescingTransport>()
  const log = options.log
  /** This adapter's open sockets: the host's transports that are ours (another adapter's are not pinged). */
  function* sockets(): Generator<WebSocket> {
    for (const transport of host.transports()) if (transport instanceof CoalescingTransport && transport.opened !== undefined) yield transport.webSocket
  }
  const heartbeat = new Heartbeat(sockets, options.heartbeatInterval, (ws) => {
    config.stats.heartbeatTimeouts++
    const transport = opened.get(ws as WebSocket)
    if (transport?.opened === undefined) return
    transport.closedWith(CloseCode.ABNORMAL, 'No pong within heartbeatInterval')
    log.heartbeatTimeout(transport.opened.session.info.id, options.heartbeatInterval)
  })
  /** Each topic event's WebSocket frame, built once for all the sockets it goes to. */
  const frameCache = new FrameCache()
  /** Guards of the servers made by listen(): their sockets still sending a request are handshakes too. */
  const ownGuards: HandshakeGuard[] = []
  /** Handshakes in progress: upgrades, and sockets of our own servers not yet upgraded. */
  const handshaking = (): number => ownGuards.reduce((sum, guard) => sum + guard.pending, upgrading)

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.limits.maxPayload,
    // ws's own guards (its defaults in 8.23), stated here because §2.2 promises them: a
    // message in more fragments, or one frame in more socket reads, closes 1008.
    maxFragments: 16_384,
    maxBufferedChunks: 262_144,
    // Compression costs CPU and memory per socket and opens the door to zip bombs; off.
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols: (offered) => negotiateSubprotocol(offered, encodings) ?? false,
  })

  const allowOrigin = (origin: string | undefined): boolean => {
    const rule = options.origins
    if (rule === undefined) return true
    if (typeof rule === 'function') return rule(origin)
    return origin === undefined || rule.includes(origin)
  }

  /**
   * Answers an upgrade with an HTTP refusal. Logged (status and body, never the request: its
   * URL or headers may hold a credential) because a browser client sees only 1006: `warn` for
   * a refusal that says the deployment is wrong, `info` for routine ones (`level`).
   */
  const refuse = (socket: Duplex, status: number, body: string, headers: Readonly<Record<string, string>> = {}, level: RefusalLevel = 'info'): void => {
    log.refused(level, status, body, (socket as { remoteAddress?: string }).remoteAddress)
    config.stats.refused++
    if (!socket.writable) {
      socket.destroy()
      return
    }
    let extra = ''
    for (const [name, value] of Object.entries(headers)) extra += `${name}: ${value}\r\n`
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
        'Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
        extra +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    )
  }

  const accept = (ws: WebSocket, ctx: unknown, remoteAddress: string | undefined): void => {
    const codec = codecForSubprotocol(ws.protocol)
    if (codec === undefined || !encodings.includes(codec.encoding)) {
      // Defence in depth (§2): a peer that ignores a missing Sec-WebSocket-Protocol answer
      // never gets a session.
      config.stats.violations++
      log.noSubprotocol(remoteAddress)
      // Counted above; ws still reads until the peer's close frame and emits a framing fault
      // as 'error', which must have a listener or it would throw.
      ws.on('error', () => {})
      ws.close(CloseCode.SUBPROTOCOL_NOT_ACCEPTABLE, 'No Patchbay subprotocol was negotiated')
      return
    }
    const transport = new CoalescingTransport(ws, codec.binary, options.closeTimeout, supportsDirectWrites(ws) ? frameCache : undefined)
    const connection = host.accept(transport, codec, ctx, { id: connectionId(), encoding: codec.encoding }, remoteAddress)
    const session = connection.session
    transport.opened = connection
    opened.set(ws, transport)
    log.opened(session.info.id, codec.encoding, remoteAddress)
    heartbeat.watch(ws)
    // The one listener of its own per socket (frames are the hot path: no lookup); 'close'
    // and 'error' are shared by every socket and find theirs in `opened`.
    ws.on('message', receiveFrame.bind(session))
    ws.on('close', onClose)
    ws.on('error', onError)
  }

  function onClose(this: WebSocket, code: number, reason: Buffer): void {
    const transport = opened.get(this)
    const entry = transport?.opened
    if (transport === undefined || entry === undefined) return
    const session = entry.session
    // What this server sent when it closed first (the peer's echo may differ, or never come).
    const sent = transport.sentClose
    if (sent === undefined) log.closed(session.info.id, code, reason.toString(), 'peer', entry.openedAt)
    else log.closed(session.info.id, sent.code, sent.reason, 'server', entry.openedAt)
    host.closed(session, entry.ctx, code, reason.toString())
  }

  /**
   * ws reports framing faults (oversized frame: it closes with 1009 itself, invalid UTF-8:
   * 1007) here before closing; the close event does the cleanup. The session counts the
   * connection once, so a fault after its own close (a 4400, say) is not a second one.
   */
  function onError(this: WebSocket, error: Error & { code?: unknown }): void {
    const transport = opened.get(this)
    const session = transport?.opened?.session
    if (transport === undefined || session === undefined) return
    // A framing fault (ws's WS_ERR_ codes), or the socket's own error (a reset), which is no violation.
    // Logged once, as the session counts it: a fault after this server's own close is no new one.
    const fault = typeof error.code === 'string' && error.code.startsWith('WS_ERR_')
    if (fault && transport.sentClose === undefined) {
      const code = WS_FAULT_CLOSE[error.code as string] ?? CloseCode.PROTOCOL_ERROR
      transport.closedWith(code, error.message)
      log.violation(session.info.id, code, error.message)
    }
    session.countViolation()
  }

  /** `deadline`: when the whole handshake must be done (epoch ms), if it was timed from its connection. */
  const upgrade = (request: IncomingMessage, socket: Duplex, head: Buffer, deadline: number | undefined): void => {
    // Until ws owns the socket, an error on it (a reset mid-handshake) must not crash us.
    const onSocketError = (): void => {
      socket.destroy()
    }
    socket.on('error', onSocketError)
    if (host.closing) return refuse(socket, 503, 'Server is shutting down')
    // A limit reached is the operator's to act on: warn.
    if (host.size + upgrading >= host.options.maxConnections) return refuse(socket, 503, 'Too many connections', {}, 'warn')
    // This upgrade's own header-phase timer (an own server's) stopped counting it already.
    if (handshaking() >= options.maxHandshakes) return refuse(socket, 503, 'Too many handshakes in progress', {}, 'warn')
    // ws would refuse these too, but only after the context hook had run for nothing.
    const malformed = malformedUpgrade(request)
    if (malformed !== undefined) return refuse(socket, malformed.status, malformed.body, malformed.headers)
    const origin = request.headers.origin
    if (!allowOrigin(origin)) return refuse(socket, 403, 'Origin not allowed', {}, 'warn')
    const offered = parseSubprotocolHeader(request.headers['sec-websocket-protocol'])
    const subprotocol = negotiateSubprotocol(offered, encodings)
    if (subprotocol === undefined) {
      return refuse(socket, 400, `No supported WebSocket subprotocol; offer one of: ${supported}`, {}, 'warn')
    }
    // Counted from here until the socket is a session or refused, so maxConnections holds
    // while context hooks run.
    upgrading++
    let settled = false
    const settle = (): boolean => {
      if (settled) return false
      settled = true
      upgrading--
      clearTimeout(timer)
      return true
    }
    const left = deadline === undefined ? options.handshakeTimeout : Math.max(0, deadline - Date.now())
    const timer = setTimeout(() => {
      if (settle()) refuse(socket, 408, 'Handshake timed out')
    }, left)
    const finish = (ctx: unknown): void => {
      if (!settle()) return
      if (socket.destroyed) return
      if (host.closing) return refuse(socket, 503, 'Server is shutting down')
      socket.off('error', onSocketError)
      wss.handleUpgrade(request, socket, head, (ws) => accept(ws, ctx, request.socket.remoteAddress))
    }
    const fail = (error: unknown): void => {
      if (!settle()) return
      const [status, body] = refusalOf(error)
      // A refusal the hook meant (a PatchbayError with its status) is an answer; anything else
      // is a bug the peer sees only as a generic 500. The request (its headers, a token) stays out.
      if (status === 500) log.contextFailed(error)
      refuse(socket, status, body, {}, status === 500 ? 'debug' : 'info')
    }
    const context = host.options.context
    if (context === undefined) return finish(undefined)
    let ctx: unknown
    try {
      ctx = context(handshakeInfo(request, offered, subprotocol))
    } catch (error) {
      return fail(error)
    }
    if (ctx instanceof Promise) ctx.then(finish, fail)
    else finish(ctx)
  }

  const handleUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => upgrade(request, socket, head, undefined)

  const attachAs = (server: HttpServer, attachOptions: AttachOptions, mode: GuardMode): void => {
    const guard = guardHandshakes(server, options.handshakeTimeout, mode, {
      timedOut: () => {
        config.stats.refused++
        log.handshakeTimedOut()
      },
      refused: () => {
        config.stats.refused++
        log.handshakesBusy()
      },
      // The new socket is not counted yet: below the limit, it may start.
      admit: () => handshaking() < options.maxHandshakes,
    })
    if (mode === 'own') ownGuards.push(guard)
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      // Its headers are in: the header-phase timer stops (whoever owns the path).
      const deadline = guard.take(socket)
      if (attachOptions.path !== undefined && pathOf(request) !== attachOptions.path) {
        // Another 'upgrade' listener may own this path; when there is none, Node would leave
        // the socket open forever, so answer it here.
        if (server.listenerCount('upgrade') === 1) refuse(socket, 404, 'No WebSocket endpoint at this path', {}, 'warn')
        return
      }
      upgrade(request, socket, head, deadline)
    })
  }

  const attach = (server: HttpServer, attachOptions: AttachOptions = {}): void => attachAs(server, attachOptions, 'shared')

  const listen = (listenOptions: ListenOptions = {}): Promise<{ port: number; host: string }> => {
    const server = createHttpServer((_request, response) => {
      response.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket' })
      response.end('This endpoint speaks WebSocket only')
    })
    // The guard attachAs installs times every socket exactly; Node's own checks (run only
    // every connectionsCheckingInterval) stay as a backstop.
    server.headersTimeout = options.handshakeTimeout
    server.requestTimeout = options.handshakeTimeout
    ownServers.push(server)
    attachAs(server, {}, 'own')
    const host = listenOptions.host ?? '127.0.0.1'
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen({ port: listenOptions.port ?? 0, host, backlog: listenOptions.backlog ?? DEFAULT_BACKLOG }, () => {
        server.off('error', reject)
        const address = server.address()
        resolve({ port: typeof address === 'object' && address !== null ? address.port : 0, host })
      })
    })
  }

  const close = async (): Promise<void> => {
    host.closing = true
    heartbeat.stop()
    // Graceful: calls in flight finish (up to closeTimeout) before their connections close.
    await host.idle(options.closeTimeout)
    // Every session, this adapter's and any other's (an in-memory pair's), closes its own way.
    await host.closeAll(CloseCode.GOING_AWAY, truncateCloseReason('Server is shutting down'))
    await config.pubsub.clear()
    await Promise.all(
      ownServers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve())
            server.closeAllConnections()
          }),
      ),
    )
    wss.close()
  }

  return {
    listen,
    attach,
    handleUpgrade,
    close,
    publish: options.publish,
    history: options.history,
    publishTo: options.publishTo,
    connections: () => registry.list(),
    connection: (id) => registry.get(id),
    disconnect: (id, code, reason = '') => registry.disconnect(id, code, reason),
    get topicStats() {
      return config.pubsub.stats
    },
    get connectionCount() {
      return host.size
    },
    get stats() {
      return { ...config.stats, deduplicated: config.dedupe.deduplicated }
    },
  }
}

/**
 * A socket's 'message' listener, bound to its session: a bound function is 48 bytes, where
 * a closure and the context it keeps are 96.
 */
function receiveFrame(this: Session, data: Buffer, isBinary: boolean): void {
  this.receive(isBinary ? data : data.toString('utf8'))
}

/** Closes `ws` with `code` and `reason`; resolves once it has closed (terminated past `closeTimeout`). */
function closeSocket(ws: WebSocket, code: number, reason: string, closeTimeout: number): Promise<void> {
  return new Promise<void>((resolve) => {
    if (ws.readyState === ws.CLOSED) return resolve()
    ws.once('close', () => resolve())
    ws.close(code, reason)
    // A peer that never answers the closing handshake must not hold close() forever.
    setTimeout(() => ws.terminate(), closeTimeout).unref()
  })
}

/** The listen backlog of listen()'s own server (ListenOptions.backlog). */
const DEFAULT_BACKLOG = 4096

/** ws.send options, made once rather than per frame. */
const TEXT = Object.freeze({ binary: false })
const BINARY = Object.freeze({ binary: true })

/** Corked bytes past which a tick's writes go to the kernel at once rather than pile up. */
const CORK_FLUSH_BYTES = 65_536
/** How often a socket without a usable 'drain' event is checked while something waits on it. */
const DRAIN_POLL_MS = 5

/**
 * A transport whose writes within one tick reach the kernel together: the socket is corked
 * on the first send of a tick and uncorked on the next tick, so a burst of replies becomes
 * one writev instead of a syscall each (a large burst is flushed every CORK_FLUSH_BYTES so
 * the kernel buffer, not ours, takes it). `_socket` is ws's private handle on the
 * net.Socket; if a future ws hides it, sends still work, only uncoalesced, and drain is polled.
 * A class with prototype methods: an idle connection carries one small object, no closures.
 */
class CoalescingTransport implements ClosableTransport {
  private readonly socket: (Corkable & Partial<Drainable>) | undefined
  private corked = false
  /** Bytes sent since the socket was corked (frame lengths: cheaper than asking ws each time). */
  private corkedBytes = 0
  /** Text or binary frames, by the session's codec (a JSON frame may arrive as UTF-8 bytes). */
  private readonly kind: typeof TEXT | typeof BINARY
  /** Frames given to ws whose write has not completed: outbound flow control counts them (§14). */
  private frames = 0
  /** The close this server started, first one only: the close line logs it rather than the peer's echo. */
  sentClose: { code: number; reason: string } | undefined
  /**
   * ws calls it once per frame, when the socket has handed the frame to the kernel (or
   * failed). A bound method: 48 bytes, where an arrow function and its context are 96.
   */
  private readonly written: () => void = this.frameWritten.bind(this)
  /** The connection's record, once the host has opened its session. */
  opened: OpenConnection | undefined

  constructor(
    private readonly ws: WebSocket,
    binary: boolean,
    private readonly closeTimeout: number,
    /** Where topic events get their frame, built once per publish; undefined: ws.send frames each (see frames.ts). */
    private readonly shared: FrameCache | undefined,
  ) {
    this.kind = binary ? BINARY : TEXT
    const raw = (ws as unknown as { _socket?: Partial<Corkable> & Partial<Drainable> })._socket
    this.socket = typeof raw?.cork === 'function' && typeof raw.uncork === 'function' ? (raw as Corkable & Partial<Drainable>) : undefined
  }

  /** The WebSocket this transport writes to. */
  get webSocket(): WebSocket {
    return this.ws
  }

  private frameWritten(): void {
    this.frames--
  }

  send(frame: Frame): void {
    const ws = this.ws
    if (ws.readyState !== ws.OPEN) return
    this.cork()
    this.frames++
    ws.send(frame, this.kind, this.written)
    this.sent(typeof frame === 'string' ? frame.length : frame.byteLength)
  }

  /**
   * A topic event: its frame (header and payload) is built once per publish and the same
   * bytes written to every subscriber's socket, past ws.send's per-socket framing; ws.send
   * where that cannot be done (frames.ts says when). Counted and corked as `send`.
   */
  sendShared(frame: Frame): void {
    const cache = this.shared
    if (cache === undefined || typeof frame === 'string') return this.send(frame)
    const ws = this.ws
    if (ws.readyState !== ws.OPEN) return
    this.cork()
    this.frames++
    if (!writeDirect(ws, cache.frameOf(frame, this.kind === BINARY), this.written)) ws.send(frame, this.kind, this.written)
    this.sent(frame.byteLength)
  }

  /** Corks the socket for the rest of the tick, on the tick's first send. */
  private cork(): void {
    if (this.socket === undefined || this.corked) return
    this.corked = true
    this.corkedBytes = 0
    this.socket.cork()
    process.nextTick(uncorkTransport, this)
  }

  private sent(bytes: number): void {
    this.corkedBytes += bytes
    // net.Socket counts corks; the extra uncork the tick makes later is harmless.
    if (this.corked && this.corkedBytes >= CORK_FLUSH_BYTES) this.uncork()
  }

  uncork(): void {
    this.corked = false
    this.socket?.uncork()
  }

  /** Notes the close this server started (whoever sends it: the session, ws, the heartbeat, shutdown). */
  closedWith(code: number, reason: string): void {
    this.sentClose ??= { code, reason }
  }

  close(code: number, reason: string): void {
    const ws = this.ws
    this.closedWith(code, reason)
    ws.close(code, reason)
    // The close frame waits behind whatever is buffered; a peer that does not read (a slow
    // consumer) would hold that memory for ws's own 30 s closing timeout.
    const deadline = setTimeout(() => ws.terminate(), this.closeTimeout).unref()
    // A peer that completes the closing handshake frees the socket, and with it the session
    // its listeners hold, at once rather than when the deadline passes.
    ws.once('close', () => clearTimeout(deadline))
  }

  /** The server's shutdown: closes and resolves once closed (terminated past closeTimeout). */
  shutdown(code: number, reason: string): Promise<void> {
    // Ours only if the peer had not started closing first.
    if (this.ws.readyState === this.ws.OPEN) this.closedWith(code, reason)
    return closeSocket(this.ws, code, reason, this.closeTimeout)
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount
  }

  get bufferedFrames(): number {
    return this.frames
  }

  pause(): void {
    this.ws.pause()
  }

  resume(): void {
    this.ws.resume()
  }

  onceDrained(listener: () => void): void {
    if (this.corked) this.uncork()
    // 'drain' fires only after a write was refused (needDrain); a buffer below the socket's
    // own 16 KiB mark never refuses one, so then poll, and only while someone waits.
    const socket = this.socket
    if (socket?.writableNeedDrain === true && typeof socket.once === 'function') {
      socket.once('drain', listener)
      return
    }
    const ws = this.ws
    const check = (): void => {
      if (ws.readyState !== ws.OPEN) return
      if (ws.bufferedAmount === 0) listener()
      else setTimeout(check, DRAIN_POLL_MS)
    }
    setTimeout(check, DRAIN_POLL_MS)
  }
}

function uncorkTransport(transport: CoalescingTransport): void {
  transport.uncork()
}

function refusalOf(error: unknown): [number, string] {
  if (error instanceof PatchbayError) {
    const status = REFUSAL_STATUS[error.code]
    // The message is the application's own refusal text; headers and tokens never enter it.
    if (status !== undefined) return [status, error.message]
  }
  return [500, 'Internal server error']
}

function pathOf(request: IncomingMessage): string {
  const url = request.url ?? '/'
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}

function handshakeInfo(request: IncomingMessage, subprotocols: string[], subprotocol: string): HandshakeInfo {
  const host = request.headers.host ?? 'localhost'
  let url: URL
  try {
    url = new URL(request.url ?? '/', `http://${host}`)
  } catch {
    url = new URL('http://localhost/')
  }
  const token = tokenFromSubprotocols(subprotocols)
  const info: HandshakeInfo = { request, url, headers: request.headers, cookies: parseCookies(request.headers.cookie), subprotocols, subprotocol }
  if (token !== undefined) info.token = token
  return info
}

/** Parses a Cookie header; malformed pairs are skipped, never thrown on. */
export function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = Object.create(null) as Record<string, string>
  if (header === undefined) return cookies
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=')
    if (eq <= 0) continue
    const name = pair.slice(0, eq).trim()
    let value = pair.slice(eq + 1).trim()
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1)
    try {
      cookies[name] = decodeURIComponent(value)
    } catch {
      cookies[name] = value
    }
  }
  return cookies
}

