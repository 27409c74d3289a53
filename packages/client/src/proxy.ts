/**
 * Builds the callable tree from the router definition itself rather than from a Proxy: the
 * names are known up front, so unknown names are `undefined` instead of callable, the object
 * is never thenable (routers may not name anything `then`), and a call is one plain
 * function call with its path already joined.
 */
import { isProcedure, type RouterDef } from '@patchbay/core'
import type { CallOptions } from './request-manager.js'

/** What a procedure function does when called. */
export type Invoke = (path: string, input: unknown, options: CallOptions | undefined) => Promise<unknown>

/** Makes the tree of procedure functions for `def`. */
export function buildProcedures(def: RouterDef, invoke: Invoke, prefix = ''): Record<string, unknown> {
  const tree: Record<string, unknown> = {}
  for (const name of Object.keys(def)) {
    const path = prefix === '' ? name : `${prefix}.${name}`
    const entry = def[name]
    tree[name] = isProcedure(entry)
      ? (input?: unknown, options?: CallOptions) => invoke(path, input, options)
      : Object.freeze(buildProcedures(entry as RouterDef, invoke, path))
  }
  return tree
}
