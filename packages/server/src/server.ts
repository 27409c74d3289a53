/**
 * createServer: resolves the router against its handlers once, then hands sockets to the
 * adapter. Everything here is runtime-free; the `ws` glue lives in adapters/ws.ts.
 */
import { flattenRouter, resolveLimits, DEFAULT_ENCODINGS, type RouterDef } from '@patchbay/core'
import { createWsAdapter } from './adapters/ws.js'
import type { Route } from './dispatch.js'
import type { SessionConfig } from './connection.js'
import type { PatchbayServer, ServerOptions, ServerStats } from './types.js'

/**
 * Creates a Patchbay server for `api`. Throws if a procedure has no handler or a handler
 * names no procedure, so a wrong server fails at start rather than on the first call.
 */
export function createServer<R extends RouterDef, TCtx = undefined>(
  api: R,
  options: ServerOptions<R, TCtx>,
): PatchbayServer {
  const routes = resolveRoutes(api, options.handlers as unknown as HandlerTree)
  const stats: ServerStats = { connections: 0, refused: 0, violations: 0, calls: 0, lateCancels: 0 }
  const config: SessionConfig = {
    routes,
    limits: resolveLimits(options.limits),
    stats,
    validateOutput: options.validateOutput ?? false,
    exposeErrors: options.exposeErrors ?? false,
    onError: options.onError,
  }
  const encodings = options.encodings ?? DEFAULT_ENCODINGS
  if (encodings.length === 0) throw new TypeError('encodings must name at least one encoding')
  return createWsAdapter({
    config,
    encodings,
    context: options.context as ((info: Parameters<NonNullable<ServerOptions<R, TCtx>['context']>>[0]) => unknown) | undefined,
    origins: options.origins,
    closeTimeout: options.closeTimeout ?? 5_000,
  })
}

interface HandlerTree {
  readonly [name: string]: Route['handler'] | HandlerTree
}

function resolveRoutes(api: RouterDef, handlers: HandlerTree): Map<string, Route> {
  const routes = new Map<string, Route>()
  for (const [path, procedure] of flattenRouter(api)) {
    let node: unknown = handlers
    for (const segment of path.split('.')) {
      // Own properties only: a handler tree must not find `toString` on Object.prototype.
      node = typeof node === 'object' && node !== null && Object.hasOwn(node, segment) ? (node as HandlerTree)[segment] : undefined
    }
    if (typeof node !== 'function') throw new TypeError(`missing handler for procedure "${path}"`)
    routes.set(path, { procedure, handler: node as Route['handler'] })
  }
  checkExtra(handlers, '', routes)
  return routes
}

function checkExtra(tree: HandlerTree, prefix: string, routes: ReadonlyMap<string, Route>): void {
  for (const [name, value] of Object.entries(tree)) {
    const path = prefix === '' ? name : `${prefix}.${name}`
    if (typeof value === 'function') {
      if (!routes.has(path)) throw new TypeError(`handler "${path}" matches no procedure of the router`)
    } else if (typeof value === 'object' && value !== null) {
      checkExtra(value, path, routes)
    }
  }
}
