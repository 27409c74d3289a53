/** `createClient` of `@patchbay/client/slim`: JSON by name, any other codec as an object. */
import type { Codec, RouterDef } from '@patchbay/core'
import { createClient } from './client.js'
import type { ClientOptions } from './options.js'
import type { RouterShape } from './shape.js'
import type { Client } from './types.js'

/** Options of the slim `createClient`: as {@link ClientOptions}, codecs by object except JSON. */
export interface SlimClientOptions extends Omit<ClientOptions, 'encodings'> {
  /**
   * Codecs to offer, most preferred first; the server takes the first it supports. `'json'`
   * names the JSON codec; MessagePack is `msgpackCodec` from `@patchbay/core/msgpack`.
   * @default ['json']
   */
  encodings?: readonly (Codec | 'json')[]
}

/**
 * Creates a client for the router `api` and starts connecting; see `@patchbay/client`'s
 * `createClient`. Here the router's schemas are bundled: pass its shape to leave them out.
 */
export function createSlimClient<R extends RouterDef>(api: R, options: SlimClientOptions): Client<R>
/**
 * Creates a client from the router's shape (`patchbay-shape` writes it), typed exactly as one
 * made from the router, with no schema library in the bundle.
 */
export function createSlimClient<R extends RouterDef>(shape: RouterShape<R>, options: SlimClientOptions): Client<R>
export function createSlimClient<R extends RouterDef>(api: R | RouterShape<R>, options: SlimClientOptions): Client<R> {
  return createClient(api, options)
}
