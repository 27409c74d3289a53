/**
 * Builds the callable tree from the router definition, or from its shape (shape.ts), rather
 * than from a Proxy: the names are known up front, so unknown names are `undefined` instead
 * of callable, the object is never thenable (routers may not name anything `then`), and a
 * call is one plain function call with its path already joined.
 */
import type { RouterDef } from '@patchbay/core'
import { withEndpoint } from './endpoint.js'
import type { CallOptions } from './request-manager.js'
import { FEATURES_KEY, type EndpointShape, type ShapeTree } from './shape.js'

/** What the tree's functions do, by kind. */
export interface Endpoints {
  call(path: string, input: unknown, options: CallOptions | undefined): Promise<unknown>
  /** The function of stream `path` (the streams feature makes it). */
  stream(path: string): unknown
  /** The object of topic `path` (the topics feature makes it). */
  topic(path: string, hasParams: boolean): unknown
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
      tree[name] = endpoints.stream(path)
    } else if (shape !== undefined) {
      tree[name] = endpoints.topic(path, shape === 'topic with params')
    } else {
      tree[name] = Object.freeze(buildProcedures(entry as RouterDef | ShapeTree, endpoints, path))
    }
  }
  return tree
}
