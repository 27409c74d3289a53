/**
 * Builds the callable tree from the router definition itself rather than from a Proxy: the
 * names are known up front, so unknown names are `undefined` instead of callable, the object
 * is never thenable (routers may not name anything `then`), and a call is one plain
 * function call with its path already joined.
 */
import { isProcedure, isStream, isTopic, type RouterDef } from '@patchbay/core'
import type { IterateOptions } from './iterate.js'
import type { CallOptions } from './request-manager.js'
import type { StreamOptions } from './stream.js'
import type { SubscribeOptions, TopicListener } from './subscriptions.js'

/** What the tree's functions do, by kind. */
export interface Endpoints {
  call(path: string, input: unknown, options: CallOptions | undefined): Promise<unknown>
  subscribe(path: string, params: unknown, listener: TopicListener<unknown>, options: SubscribeOptions | undefined): unknown
  stream(path: string, input: unknown, options: StreamOptions | undefined): unknown
  iterate(path: string, params: unknown, options: IterateOptions | undefined): unknown
  publish(path: string, params: unknown, message: unknown, options: CallOptions | undefined): Promise<unknown>
}

/**
 * Makes the tree for `def`: a function per procedure; per topic an object with subscribe,
 * iterate and publish. Topics without params take no params argument, which the functions
 * tell by `hasParams`.
 */
export function buildProcedures(def: RouterDef, endpoints: Endpoints, prefix = ''): Record<string, unknown> {
  const tree: Record<string, unknown> = {}
  for (const name of Object.keys(def)) {
    const path = prefix === '' ? name : `${prefix}.${name}`
    const entry = def[name]
    if (isProcedure(entry)) {
      tree[name] = entry.idempotent
        ? (input?: unknown, options?: CallOptions) => endpoints.call(path, input, options?.idempotent === undefined ? { ...options, idempotent: true } : options)
        : (input?: unknown, options?: CallOptions) => endpoints.call(path, input, options)
    } else if (isStream(entry)) {
      tree[name] = (input?: unknown, options?: StreamOptions) => endpoints.stream(path, input, options)
    } else if (isTopic(entry)) {
      const hasParams = entry.params !== undefined
      tree[name] = Object.freeze(
        hasParams
          ? {
              subscribe: (params: unknown, listener: TopicListener<unknown>, options?: SubscribeOptions) =>
                endpoints.subscribe(path, params, listener, options),
              iterate: (params: unknown, options?: IterateOptions) => endpoints.iterate(path, params, options),
              publish: (params: unknown, message: unknown, options?: CallOptions) => endpoints.publish(path, params, message, options),
            }
          : {
              subscribe: (listener: TopicListener<unknown>, options?: SubscribeOptions) => endpoints.subscribe(path, undefined, listener, options),
              iterate: (options?: IterateOptions) => endpoints.iterate(path, undefined, options),
              publish: (message: unknown, options?: CallOptions) => endpoints.publish(path, undefined, message, options),
            },
      )
    } else {
      tree[name] = Object.freeze(buildProcedures(entry as RouterDef, endpoints, path))
    }
  }
  return tree
}
