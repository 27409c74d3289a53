/**
 * Channel names (docs/protocol.md §12): one per (topic, params). The server names a channel
 * from the validated params, so params that validate to the same value share a channel and
 * a publish is encoded once for all of its subscribers.
 */

/** JSON with object keys sorted, so equal params always give the same text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item) || item instanceof Uint8Array) return item
    const sorted: Record<string, unknown> = {}
    for (const key of Object.keys(item).sort()) sorted[key] = (item as Record<string, unknown>)[key]
    return sorted
  }) ?? ''
}

/** The channel of topic `path` with validated `params`: `path` alone, or `path?{"k":"v"}`. */
export function channelOf(path: string, params: unknown): string {
  return params === undefined ? path : `${path}?${canonicalJson(params)}`
}
