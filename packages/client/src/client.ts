/**
 * createClient: a typed client for a router, over one WebSocket.
 */
import { ErrorCode, PatchbayError, type RouterDef } from '@patchbay/core'
import { Connection, type ConnectionState } from './connection.js'
import { resolveClientOptions, type ClientOptions } from './options.js'
import { buildProcedures } from './proxy.js'
import { RequestManager } from './request-manager.js'
import type { Client, StateEvent } from './types.js'

/**
 * Creates a client for `api` and starts connecting. Calls made before the socket opens wait
 * and go out once it does.
 */
export function createClient<R extends RouterDef>(api: R, options: ClientOptions): Client<R> {
  const resolved = resolveClientOptions(options)
  const listeners = new Set<(event: StateEvent) => void>()
  let closedByUser = false
  let opened: { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void }
  {
    let resolve!: () => void
    let reject!: (error: unknown) => void
    const promise = new Promise<void>((res, rej) => {
      resolve = res
      reject = rej
    })
    // connect() may never be awaited; an unobserved rejection must not crash Node.
    promise.catch(() => {})
    opened = { promise, resolve, reject }
  }
  let closed: Promise<void> | undefined
  let resolveClosed: (() => void) | undefined

  const manager = new RequestManager(resolved.timeout, (message) => connection.send(message))
  const connection: Connection = new Connection(resolved, {
    open() {
      opened.resolve()
      manager.flush()
    },
    message(message) {
      manager.handle(message)
    },
    close(code, reason, wasOpen) {
      const detail = `(close ${code}${reason === '' ? '' : `: ${reason}`})`
      if (!wasOpen) {
        const error = new PatchbayError(ErrorCode.CONNECTION_FAILED, `Could not connect to ${resolved.url} ${detail}`)
        opened.reject(error)
        manager.failAll(ErrorCode.CONNECTION_FAILED, error.message)
      } else {
        manager.failAll(ErrorCode.CONNECTION_LOST, closedByUser ? 'The client was closed' : `The connection closed ${detail}`)
      }
      resolveClosed?.()
    },
    state(state, code, reason) {
      const event: StateEvent = code === undefined ? { state } : reason === undefined ? { state, code } : { state, code, reason }
      for (const listener of listeners) listener(event)
    },
  })

  const invoke = (path: string, input: unknown, callOptions: Parameters<typeof manager.call>[2]): Promise<unknown> => {
    if (connection.state === 'closing' || connection.state === 'closed') {
      return Promise.reject(new PatchbayError(ErrorCode.CONNECTION_FAILED, 'The client is closed'))
    }
    return manager.call(path, input, callOptions, connection.state === 'open')
  }

  const controls = {
    get state(): ConnectionState {
      return connection.state
    },
    get encoding() {
      return connection.encoding
    },
    get stats() {
      return { ...manager.stats }
    },
    get bufferedAmount() {
      return connection.bufferedAmount
    },
    connect: () => opened.promise,
    close(): Promise<void> {
      closedByUser = true
      if (connection.state === 'closed') return Promise.resolve()
      closed ??= new Promise<void>((resolve) => {
        resolveClosed = resolve
      })
      connection.close()
      return closed
    },
    on(event: 'state', listener: (event: StateEvent) => void): () => void {
      if (event !== 'state') throw new TypeError(`unknown event "${String(event)}"`)
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
  const procedures = buildProcedures(api, invoke)
  return Object.freeze(Object.defineProperties(procedures, Object.getOwnPropertyDescriptors(controls))) as unknown as Client<R>
}
