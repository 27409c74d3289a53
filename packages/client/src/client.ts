/**
 * createClient: a typed client for a router, over one WebSocket.
 */
import { ErrorCode, PatchbayError, type RouterDef } from '@patchbay/core'
import { Connection, type ConnectionState } from './connection.js'
import { resolveClientOptions, type ClientOptions } from './options.js'
import { iterateTopic } from './iterate.js'
import { buildProcedures } from './proxy.js'
import { RequestManager } from './request-manager.js'
import { Subscriptions } from './subscriptions.js'
import type { Client, StateEvent } from './types.js'
import type { IterateOptions } from './iterate.js'
import type { CallOptions } from './request-manager.js'
import type { TopicListener, Unsubscribe } from './subscriptions.js'

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
      if (message.t === 'event') subscriptions.handle(message)
      else manager.handle(message)
    },
    close(code, reason, wasOpen) {
      const detail = `(close ${code}${reason === '' ? '' : `: ${reason}`})`
      subscriptions.endAll(new PatchbayError(ErrorCode.CONNECTION_LOST, `The connection closed ${detail}`))
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

  const subscriptions = new Subscriptions(
    manager,
    () => connection.state === 'open',
    (id) => connection.send({ t: 'unsub', id }),
  )
  const closedError = (): PatchbayError => new PatchbayError(ErrorCode.CONNECTION_FAILED, 'The client is closed')
  const isClosed = (): boolean => connection.state === 'closing' || connection.state === 'closed'

  const endpoints = {
    call(path: string, input: unknown, callOptions: CallOptions | undefined): Promise<unknown> {
      if (isClosed()) return Promise.reject(closedError())
      return manager.call(path, input, callOptions, connection.state === 'open')
    },
    subscribe(path: string, params: unknown, listener: TopicListener<unknown>): Unsubscribe {
      if (isClosed()) {
        const ready = Promise.reject(closedError())
        ready.catch(() => {})
        return Object.assign(() => {}, { ready })
      }
      return subscriptions.add(path, params, listener)
    },
    iterate(path: string, params: unknown, iterateOptions: IterateOptions | undefined): AsyncIterableIterator<unknown> {
      return iterateTopic(subscriptions, path, params, iterateOptions)
    },
    publish(path: string, params: unknown, message: unknown, callOptions: CallOptions | undefined): Promise<unknown> {
      if (isClosed()) return Promise.reject(closedError())
      return manager.request('pub', path, params, message, callOptions, connection.state === 'open').promise
    },
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
  const procedures = buildProcedures(api, endpoints)
  return Object.freeze(Object.defineProperties(procedures, Object.getOwnPropertyDescriptors(controls))) as unknown as Client<R>
}
