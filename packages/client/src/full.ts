/**
 * `createClient` as `@patchbay/client` exports it: every feature built in, JSON by name and
 * MessagePack by its codec (`@patchbay/client/msgpack`, which needs the optional peer
 * `msgpackr`). `@patchbay/client/slim` (slim.ts) is the same client carrying only what its
 * shape and options name.
 */
import type { RouterDef } from '@patchbay/core'
import { createClient as createBaseClient } from './client.js'
import type { Features } from './features.js'
import { nodeDiagnostics } from './node-diagnostics.js'
import type { ClientOptions } from './options.js'
import type { RouterShape } from './shape.js'
import { streams } from './streams.js'
import { topics } from './topics.js'
import type { Client } from './types.js'

/** Every feature: the router (or shape) may use any; and Node's reasons for a failed connection. */
const ALL_FEATURES: Features = { ...topics, ...streams, diagnostics: nodeDiagnostics }

/**
 * Creates a client for the router `api` and starts connecting. Calls made before the socket
 * opens (or while it reconnects) wait and go out once it does.
 */
export function createClient<R extends RouterDef>(api: R, options: ClientOptions): Client<R>
/**
 * Creates a client from the router's shape (`patchbay-shape` writes it), typed exactly as
 * one made from the router: a browser bundle then carries no schema library.
 */
export function createClient<R extends RouterDef>(shape: RouterShape<R>, options: ClientOptions): Client<R>
export function createClient<R extends RouterDef>(api: R | RouterShape<R>, options: ClientOptions): Client<R> {
  return createBaseClient(api, options, ALL_FEATURES)
}
