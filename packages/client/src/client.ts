/**
 * createClient: a typed client for a router, over one WebSocket at a time. It owns the
 * lifecycle: connect, reconnect with backoff after a retryable close, resubscribe, close.
 */
import { PatchbayError, isRetryableClose, type RouterDef } from '@patchbay/core'
import { backoffDelay } from './backoff.js'
import { CLOSE_ABNORMAL, CLOSE_BAD_REQUEST, CLOSE_NORMAL, CLOSE_UNAUTHORIZED, CONNECTION_FAILED, CONNECTION_LOST } from './codes.js'
import { Connection } from './connection.js'
import { ConnectionFailure, closeDetail } from './connection-failure.js'
import type { ClientHost, Features } from './features.js'
import { resolveClientOptions, type ClientOptions } from './options.js'
import { buildProcedures, type Endpoints } from './proxy.js'
import type { RouterShape } from './shape.js'
import { RequestManager } from './request-manager.js'
import type { Client, ClientState, StateEvent } from './types.js'

/** How often a full socket is checked for room while requests or drained() wait. */
const DRAIN_POLL_MS = 10

/**
 * Creates a client for `api` (the router, or its shape: shape.ts) and starts connecting.
 * Calls made before the socket opens (or while it reconnects) wait and go out once it does.
 * Encodings are codecs or 'json' here, and topics and streams come as `features`: the entry
 * points (full.ts, slim-client.ts) give the defaults, so a bundle holds only what it uses.
 */
export function createClient<R extends RouterDef>(api: R | RouterShape<R>, options: ClientOptions, features: Features): Client<R> {
  const resolved = resolveClientOptions(options)
  resolved.diagnostics = features.diagnostics
  const log = resolved.log
  const listeners = new Set<(event: StateEvent) => void>()
  let state: ClientState = resolved.lazy ? 'idle' : 'connecting'
  let closedByUser = false
  let failures = 0
  let stableTimer: ReturnType<typeof setTimeout> | undefined
  let retryTimer: ReturnType<typeof setTimeout> | undefined
  let resolveClosed: (() => void) | undefined
  let closed: Promise<void> | undefined

  /** Callers of connect() waiting for the next open, or for the end. */
  let openWaiters: { resolve: () => void; reject: (error: unknown) => void }[] = []
  /** Why the client ended, for connect() called after the end. */
  let finalError: PatchbayError | undefined
  /** Connection attempts since the last open, for the message when they all failed. */
  let attempts = 0
  /** Why the last attempt failed or the last connection ended (§8): the cause of what waits. */
  let lastFailure: ConnectionFailure | undefined

  /** `delayMs`: the wait before a reconnect, for its log line. */
  const emit = (next: ClientState, code?: number, reason?: string, failure?: ConnectionFailure, delayMs?: number): void => {
    state = next
    const event: StateEvent = code === undefined ? { state: next } : reason === undefined ? { state: next, code } : { state: next, code, reason }
    if (failure !== undefined) event.failure = failure
    // One line per state change (docs/guide/logging.md): a reconnect is info, the end of a
    // client that gave up (not closed by its user) an error, the rest debug.
    log[next === 'reconnecting' ? 'info' : next === 'closed' && !closedByUser ? 'error' : 'debug']?.({ state: next, code, reason, delayMs, err: failure }, `state ${next}`)
    for (const listener of [...listeners]) {
      // A listener's bug must not stop the others, nor the reconnect this event announces.
      try {
        listener(event)
      } catch (err) {
        log.error?.({ err, state: next }, 'state listener threw')
      }
    }
  }
  /** The error of an attempt that failed: what the user sees instead of a bare TIMEOUT or 1006. */
  const couldNotConnect = (failure: ConnectionFailure, attempts: number): PatchbayError =>
    new PatchbayError(CONNECTION_FAILED, `Could not connect to ${resolved.url}${attempts > 1 ? ` (${attempts} attempts)` : ''}: ${failure.message}`, {
      cause: failure,
    })

  /** Room in the socket: below the high-water mark (§14). */
  const canSend = (): boolean => (connection?.bufferedAmount ?? 0) < resolved.highWaterMark
  /** Waiting for drain: requests queued behind a full socket, and callers of drained(). */
  let drainPoll: ReturnType<typeof setTimeout> | undefined
  let drainWaiters: { resolve: () => void; reject: (error: unknown) => void }[] = []
  const pollDrain = (): void => {
    drainPoll = undefined
    if (state !== 'open') return // the next open flushes; finish() settles the waiters
    // flush sends while the socket has room; true once nothing is left waiting.
    if (manager.flush() && canSend()) {
      const waiters = drainWaiters
      drainWaiters = []
      for (const waiter of waiters) waiter.resolve()
      return
    }
    // Held while subscriptions are restored: their end flushes and watches again.
    if (manager.held) return
    // Browsers have no drain event: look again shortly, and only while something waits.
    drainPoll = setTimeout(pollDrain, DRAIN_POLL_MS)
  }
  const watchDrain = (): void => {
    drainPoll ??= setTimeout(pollDrain, DRAIN_POLL_MS)
  }
  const send = (message: Parameters<Connection['send']>[0]): boolean => connection?.send(message) ?? false
  const violation = (reason: string): void => connection?.close(CLOSE_BAD_REQUEST, reason)
  const manager = new RequestManager(resolved.timeout, send, resolved.maxQueued, canSend, watchDrain, resolved.maxDepth, options.instrumentation)
  // A call that waited for a connection that never came fails with why it never came.
  manager.whyUnsent = () =>
    state === 'open' || lastFailure === undefined
      ? undefined
      : new PatchbayError(CONNECTION_FAILED, `No connection to ${resolved.url} within the call's timeout: ${lastFailure.message}`, { cause: lastFailure })
  const subscriptions = new features.Subscriptions(
    manager,
    () => state === 'open',
    (id) => connection?.send([8, id]),
    violation,
    // A sub the server answered UNAVAILABLE waits as a reconnect would (§6).
    (attempt) => backoffDelay(attempt - 1, resolved.reconnect?.retryDelay ?? 250, resolved.reconnect?.maxRetryDelay ?? 10_000),
    log,
  )

  /**
   * The end: no more connections. `attemptOpened` is false when the last attempt never opened
   * (refused, or reconnecting gave up): what waits fails with why it could not connect.
   */
  const finish = (code: number, reason: string, attemptOpened: boolean, failure: ConnectionFailure | undefined): void => {
    clearTimeout(stableTimer)
    clearTimeout(retryTimer)
    const detail = closeDetail(code, reason)
    const lost = `The connection closed ${detail}`
    const cause = failure === undefined ? {} : { cause: failure }
    clearTimeout(drainPoll)
    drainPoll = undefined
    const waiters = drainWaiters
    drainWaiters = []
    for (const waiter of waiters) waiter.reject(new PatchbayError(CONNECTION_LOST, lost, cause))
    subscriptions.endAll(new PatchbayError(CONNECTION_LOST, lost, cause))
    let error: PatchbayError
    if (!closedByUser && !attemptOpened && failure !== undefined) {
      // Nothing was sent on the attempt that failed: every request still here waited for a
      // connection that never came.
      error = couldNotConnect(failure, attempts)
      manager.failAll(CONNECTION_FAILED, error.message, cause)
    } else if (!everOpened) {
      error = new PatchbayError(CONNECTION_FAILED, `Could not connect to ${resolved.url} ${detail}`, cause)
      manager.failAll(CONNECTION_FAILED, error.message, cause)
    } else {
      error = closedByUser ? closedError() : new PatchbayError(CONNECTION_FAILED, lost, cause)
      manager.failAll(CONNECTION_LOST, closedByUser ? 'The client was closed' : lost, cause)
    }
    finalError = error
    const connecting = openWaiters
    openWaiters = []
    for (const waiter of connecting) waiter.reject(error)
    emit('closed', code, reason, failure)
    resolveClosed?.()
  }

  let everOpened = false

  /** The one place that decides what a close means: reconnect, or the end (§8). */
  const closedWith = (code: number, reason: string, attemptOpened: boolean, failure: ConnectionFailure): void => {
    clearTimeout(stableTimer)
    lastFailure = failure
    const reconnect = resolved.reconnect
    // A 4401 means the credentials expired: retryable when the client can fetch fresh ones.
    const retryable = isRetryableClose(code) || (code === CLOSE_UNAUTHORIZED && typeof resolved.token === 'function')
    if (closedByUser || reconnect === undefined || !retryable || failures >= reconnect.retries) {
      finish(code, reason, attemptOpened, failure)
      return
    }
    // Sent calls may or may not have run: the caller decides whether to retry them (idempotent
    // ones are sent again with their key).
    manager.failSent(CONNECTION_LOST, `The connection closed ${closeDetail(code, reason)}`, { cause: failure })
    subscriptions.suspend()
    const delay = backoffDelay(failures, reconnect.retryDelay, reconnect.maxRetryDelay)
    emit('reconnecting', code, reason, failure, delay)
    failures++
    retryTimer = setTimeout(() => {
      if (closedByUser) return
      emit('connecting')
      start()
    }, delay)
  }

  const connect = (token: string | undefined): Connection =>
    new Connection(resolved, token, {
      open() {
        everOpened = true
        attempts = 0
        // Only a connection that stays up resets the backoff: a server that accepts and
        // drops at once must not be hammered.
        const reconnect = resolved.reconnect
        if (reconnect !== undefined) stableTimer = setTimeout(() => (failures = 0), reconnect.stableAfter)
        const connecting = openWaiters
        openWaiters = []
        for (const waiter of connecting) waiter.resolve()
        // Subscriptions first, confirmed, then what was queued while away (§10): a call queued
        // while the server was down (a chat message) may publish to a topic this client
        // listens to, and must find the subscription in place on the server, whatever order
        // the server finishes requests in (an async authorize, a remote topic engine).
        manager.release()
        const restored = subscriptions.resubscribe()
        if (restored !== undefined) {
          manager.hold()
          const current = connection
          void restored.then(() => {
            // A newer connection (or the end) decides for itself.
            if (connection !== current || state !== 'open') return
            manager.release()
            if (!manager.flush() || drainWaiters.length > 0) watchDrain()
          })
          return
        }
        if (!manager.flush() || drainWaiters.length > 0) watchDrain()
      },
      message(message) {
        if (message.t === 'event') subscriptions.handle(message)
        else if (message.t === 'lag') subscriptions.handleLag(message)
        else manager.handle(message)
      },
      close(code, reason, opened, failure) {
        closedWith(code, reason, opened, failure)
      },
      state(next, code, reason) {
        // 'closed' is decided in closedWith (it may become 'reconnecting').
        if (next !== 'closed' && next !== 'connecting') emit(next, code, reason)
      },
    })

  let connection: Connection | undefined
  /** Makes a connection, fetching a fresh token first when the token is a function. */
  const start = (): void => {
    attempts++
    const token = resolved.token
    if (typeof token !== 'function') {
      connection = connect(token)
      return
    }
    let fetched: string | Promise<string>
    try {
      fetched = token()
    } catch (error) {
      tokenFailed(error)
      return
    }
    Promise.resolve(fetched).then(
      (value) => {
        if (closedByUser) return // close() ended it while the token was on its way
        connection = connect(value)
      },
      (error: unknown) => closedByUser || tokenFailed(error),
    )
  }
  /** The token function threw or rejected: a failed attempt like any other. */
  const tokenFailed = (error: unknown): void => {
    const failure = new ConnectionFailure({ kind: 'token', url: resolved.url, offered: resolved.codecs.map((codec) => codec.subprotocol), error })
    closedWith(CLOSE_ABNORMAL, `The token function failed: ${error instanceof Error ? error.message : String(error)}`, false, failure)
  }
  /** A lazy client connects on first use. */
  const ensureStarted = (): void => {
    if (state !== 'idle') return
    emit('connecting')
    start()
  }
  if (!resolved.lazy) start()

  const closedError = (): PatchbayError => new PatchbayError(CONNECTION_FAILED, 'The client is closed')
  const isClosed = (): boolean => closedByUser || state === 'closed'

  /** What the topics' and streams' functions use of this client (features.ts). */
  const host: ClientHost = {
    requests: manager,
    subscriptions,
    isOpen: () => state === 'open',
    send,
    violation,
    willReconnect: () => !closedByUser && (state === 'reconnecting' || state === 'connecting'),
    start() {
      if (isClosed()) return closedError()
      ensureStarted()
      return undefined
    },
  }

  const endpoints: Endpoints = {
    call(path, input, callOptions) {
      if (isClosed()) return Promise.reject(closedError())
      ensureStarted()
      return manager.call(path, input, callOptions, state === 'open')
    },
    stream: (path) => features.stream(host, path),
    topic: (path, hasParams) => features.topic(host, path, hasParams),
  }

  const controls = {
    get state(): ClientState {
      return state
    },
    get encoding() {
      return connection?.encoding
    },
    get stats() {
      return { ...manager.stats }
    },
    get bufferedAmount() {
      return connection?.bufferedAmount ?? 0
    },
    drained(): Promise<void> {
      if (isClosed()) return Promise.reject(closedError())
      // Nothing waits and the socket has room (an idle lazy client has neither queue nor socket).
      if ((state === 'open' || state === 'idle') && manager.queuedCount === 0 && canSend()) return Promise.resolve()
      return new Promise<void>((resolve, reject) => {
        drainWaiters.push({ resolve, reject })
        if (state === 'open') watchDrain()
      })
    },
    connect: (): Promise<void> => {
      if (state === 'open') return Promise.resolve()
      // Ended (reconnecting gave up, a fatal close, close()): with the reason it ended.
      if (isClosed()) return Promise.reject(finalError ?? closedError())
      ensureStarted()
      return new Promise<void>((resolve, reject) => openWaiters.push({ resolve, reject }))
    },
    close(): Promise<void> {
      closedByUser = true
      if (state === 'closed') return Promise.resolve()
      closed ??= new Promise<void>((resolve) => {
        resolveClosed = resolve
      })
      if (state === 'reconnecting' || state === 'idle' || connection === undefined || connection.state === 'closed') {
        // No socket to close (between attempts, never started, or fetching a token): end here.
        finish(CLOSE_NORMAL, 'closed by the client', true, undefined)
      } else {
        connection.close()
      }
      return closed
    },
    on(event: 'state', listener: (event: StateEvent) => void): () => void {
      if (event !== 'state') throw new TypeError(`unknown event "${String(event)}"`)
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
  const procedures = buildProcedures(api, endpoints)
  return Object.freeze(Object.defineProperties(procedures, Object.getOwnPropertyDescriptors(controls))) as unknown as Client<R>
}
