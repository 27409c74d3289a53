/**
 * `createClient` of `@patchbay/client/slim`: made from a router's shape, with JSON by name,
 * other codecs as objects, and topics and streams only when the shape brings them.
 */
import type { RouterDef } from '@patchbay/core'
import { createClient } from './client.js'
import { NO_FEATURES, type Features } from './features.js'
import type { ClientOptions } from './options.js'
import { FEATURES_KEY, type RouterShape, type ShapeFeatures, type ShapeTree } from './shape.js'
import type { Client } from './types.js'

/** Options of the slim `createClient`: the same as {@link ClientOptions}. */
export type SlimClientOptions = ClientOptions

/** Throws unless the shape brings every feature its entries need. */
function checkFeatures(tree: ShapeTree, features: Features, prefix = ''): void {
  for (const name of Object.keys(tree)) {
    if (name === FEATURES_KEY) continue
    const entry = tree[name]
    const needs = entry === 'stream' ? 'stream' : entry === 'topic' || entry === 'topic with params' ? 'topic' : undefined
    if (needs !== undefined && features[needs] === NO_FEATURES[needs]) {
      throw new TypeError(`"${prefix}${name}" is a ${String(entry)}, but the shape does not import ${needs}s: regenerate it (patchbay-shape)`)
    }
    if (typeof entry === 'object' && !Array.isArray(entry)) checkFeatures(entry as ShapeTree, features, `${prefix}${name}.`)
  }
}

/**
 * Creates a client from the router's shape (`patchbay-shape` writes it), typed exactly as one
 * made from the router, with no schema library in the bundle; see `@patchbay/client`'s
 * `createClient` for the rest.
 */
export function createSlimClient<R extends RouterDef>(shape: RouterShape<R>, options: SlimClientOptions): Client<R> {
  const tree = shape as ShapeTree
  const features: Features = { ...NO_FEATURES }
  for (const feature of (tree[FEATURES_KEY] as ShapeFeatures | undefined) ?? []) Object.assign(features, feature)
  checkFeatures(tree, features)
  return createClient(shape, options, features)
}
