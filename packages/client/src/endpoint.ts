/**
 * What a function of the client is: its path and kind, read by integrations that wrap the
 * client (`@patchbay/react` keys queries by path and calls a topic with or without params).
 * The client's functions carry it under a registered symbol, so two copies of this package in
 * one bundle still read each other's functions, and so it never shows among a tree's names.
 */

/** The key of a client function's {@link EndpointInfo}: `Symbol.for('patchbay.endpoint')`. */
export const ENDPOINT: unique symbol = Symbol.for('patchbay.endpoint')

/** What a procedure, stream or topic of the client is. */
export type EndpointInfo =
  | {
      readonly kind: 'procedure'
      /** The dotted path in the router: `math.add`. */
      readonly path: string
      /** Calls are idempotent by default (`procedure({ idempotent: true })`). */
      readonly idempotent: boolean
    }
  | { readonly kind: 'stream'; readonly path: string }
  | {
      readonly kind: 'topic'
      readonly path: string
      /**
       * The topic has a params schema, so `subscribe`, `iterate` and `publish` take params
       * first (undefined is a value there when the schema accepts it); without one they take none.
       */
      readonly hasParams: boolean
    }

/**
 * What `value` is, when it is a procedure or stream function or a topic object of a client
 * (`endpointOf(client.math.add)` is `{ kind: 'procedure', path: 'math.add', idempotent: false }`);
 * undefined for anything else: a nested router, the client's own members, other values.
 */
export function endpointOf(value: unknown): EndpointInfo | undefined {
  return (typeof value === 'function' || (typeof value === 'object' && value !== null) ? (value as { [ENDPOINT]?: EndpointInfo })[ENDPOINT] : undefined)
}

/** `target`, carrying `info` (not enumerable, not writable). */
export function withEndpoint<T extends object>(target: T, info: EndpointInfo): T {
  return Object.defineProperty(target, ENDPOINT, { value: info })
}
