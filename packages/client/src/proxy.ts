/**
 * Builds the callable tree from the router definition, or from its shape (shape.ts), rather
 * than from a Proxy: the names are known up front, so unknown names are `undefined` instead
 * of callable, the object is never thenable (routers may not name anything `then`), and a
 * call is one plain function call with its path already joined.
 */
import type { RouterDef } from '@patchbay/core'
import { withEndpoint } from './endpoint.js'
import type { IterateOptions } from './iterate.js'
import type { CallOptions } from './request-manager.js'
import { FEATURES_KEY, type EndpointShape, type ShapeTree } from './shape.js'
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
 * An endpoint's shape, from its shape string or from its definition; undefined for a nested
 * router. Reads a definition's `kind` rather than calling core's isProcedure/isTopic, so a
 * client built from a shape bundles none of the router module.
 */
function shapeOf(entry: unknown, path: string): EndpointShape | undefined {
  if (typeof entry === 'string') {
    switch (entry) {
      case 'procedure':
      case 'idempotent procedure':
      case 'stream':
      case 'topic':
      case 'topic with params':
        return entry
    }
    throw new TypeError(`"${path}" has an unknown shape "${entry}": regenerate the router's shape (patchbay-shape)`)
  }
  const def = entry as { kind?: unknown; idempotent?: unknown; params?: unknown }
  if (def.kind === 'procedure') return def.idempotent === true ? 'idempotent procedure' : 'procedure'
  if (def.kind === 'stream') return 'stream'
  if (def.kind === 'topic') return def.params === undefined ? 'topic' : 'topic with params'
  return undefined
}

/**
 * A topic's object. Without params its functions take no params argument: the same
 * functions, called with undefined in front. It carries its path and whether it takes params
 * (endpoint.ts).
 */
function topicOf(endpoints: Endpoints, path: string, hasParams: boolean): Readonly<Record<string, unknown>> {
  const params = <A extends unknown[]>(f: (params: unknown, ...rest: A) => unknown) => (hasParams ? f : (...rest: A) => f(undefined, ...rest))
  return Object.freeze(
    withEndpoint(
      {
        subscribe: params((value, listener: TopicListener<unknown>, options?: SubscribeOptions) => endpoints.subscribe(path, value, listener, options)),
        iterate: params((value, options?: IterateOptions) => endpoints.iterate(path, value, options)),
        publish: params((value, message: unknown, options?: CallOptions) => endpoints.publish(path, value, message, options)),
      },
      { kind: 'topic', path, hasParams },
    ),
  )
}

/**
 * Makes the tree for `def`, a router or its shape: a function per procedure and stream; per
 * topic an object with subscribe, iterate and publish. Topics without params take no params
 * argument. Each function and topic carries what it is (endpoint.ts) for integrations.
 */
export function buildProcedures(def: RouterDef | ShapeTree, endpoints: Endpoints, prefix = ''): Record<string, unknown> {
  const tree: Record<string, unknown> = {}
  for (const name of Object.keys(def)) {
    if (name === FEATURES_KEY) continue
    const path = prefix === '' ? name : `${prefix}.${name}`
    const entry = def[name]
    const shape = shapeOf(entry, path)
    if (shape === 'idempotent procedure') {
      tree[name] = withEndpoint(
        (input?: unknown, options?: CallOptions) => endpoints.call(path, input, options?.idempotent === undefined ? { ...options, idempotent: true } : options),
        { kind: 'procedure', path, idempotent: true },
      )
    } else if (shape === 'procedure') {
      tree[name] = withEndpoint((input?: unknown, options?: CallOptions) => endpoints.call(path, input, options), { kind: 'procedure', path, idempotent: false })
    } else if (shape === 'stream') {
      tree[name] = withEndpoint((input?: unknown, options?: StreamOptions) => endpoints.stream(path, input, options), { kind: 'stream', path })
    } else if (shape !== undefined) {
      tree[name] = topicOf(endpoints, path, shape === 'topic with params')
    } else {
      tree[name] = Object.freeze(buildProcedures(entry as RouterDef | ShapeTree, endpoints, path))
    }
  }
  return tree
}
