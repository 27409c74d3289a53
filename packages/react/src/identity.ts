/**
 * Keys for what a hook holds open: the topic or stream function (by identity rather than by
 * path, since two clients have functions of the same path) plus its params or input as
 * canonical JSON, so params written as a new object literal on every render do not resubscribe.
 */
import { canonicalJson } from '@patchbay/core'

const ids = new WeakMap<object, number>()
let nextId = 0

function idOf(target: object): number {
  let id = ids.get(target)
  if (id === undefined) {
    id = nextId++
    ids.set(target, id)
  }
  return id
}

/** The key of `target` called with `args`: equal for equal args, different per target. */
export function leaseKey(target: object, args: unknown): string {
  return `${idOf(target)}:${args === undefined ? '' : canonicalJson(args)}`
}
