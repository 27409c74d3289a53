/**
 * Middleware: functions that run around a procedure's handler, a stream's start, and a topic's
 * subscribe and publish, on the server side (the shared router stays schemas only).
 *
 * The shape is tRPC's `t.procedure.use(mw)`: a {@link Chain} starts from the server's context
 * type, each `use` adds one middleware and may extend the context, and the chain then wraps
 * handlers or topic options for one procedure or a whole subtree. The types follow the chain:
 * after an auth middleware that calls `next({ ctx: { user } })` with a non-null user, the
 * handlers it wraps see `ctx.user` non-null. Runtime-free; resolved once at `createServer`,
 * so a server without middleware runs exactly the path it ran before.
 */
import type { AnyProcedure, AnyStream, AnyTopic, RouterDef } from '@patchbay/core'
import type { ConnectionInfo, Handler, Handlers, MaybePromise, StreamHandler, TopicOptions, TopicsOptions } from './types.js'

/** What a middleware wraps: a call, a stream's start, a topic subscribe or a client's publish. */
export type MiddlewareKind = 'call' | 'stream' | 'subscribe' | 'publish'

/** The context a middleware adds when it calls `next()` without one: nothing. */
export type NoContext = Record<never, never>

/**
 * The context the handlers below a middleware see: the one above it with the middleware's
 * additions laid over it (a shallow copy; the connection's own ctx is never changed).
 */
export type ExtendContext<TCtx, TAdd> = TCtx extends object ? Flatten<Omit<TCtx, keyof TAdd> & TAdd> : Flatten<TAdd>
type Flatten<T> = { [K in keyof T]: T[K] }

/**
 * What `next()` resolves with, to be returned by the middleware as it is (a middleware that
 * returns anything else fails the request with INTERNAL). `'~context'` exists in the type only:
 * it carries what the middleware added to the context to the handlers below it.
 */
export interface MiddlewareResult<TAdd = NoContext> {
  /**
   * What the wrapped step produced: a call's output (before `validateOutput`), a stream's
   * async iterable; undefined for subscribe and publish.
   */
  readonly output: unknown
  readonly '~context'?: TAdd
}

/** Runs the rest of the chain (then the handler), optionally with context added. */
export interface Next {
  (): Promise<MiddlewareResult>
  <TAdd extends object>(options: { ctx: TAdd }): Promise<MiddlewareResult<TAdd>>
}

/** What a middleware sees of the request it wraps. */
export interface MiddlewareOptions<TCtx> {
  /** The procedure's, stream's or topic's dotted path. */
  readonly path: string
  readonly kind: MiddlewareKind
  /**
   * The input after validation (the schema's output type): a call's or stream's input, a
   * topic's params for subscribe and publish.
   */
  readonly input: unknown
  /** Publish only: the message, validated; undefined otherwise. */
  readonly data: unknown
  /** The context as the middleware above this one left it. */
  readonly ctx: TCtx
  /** The connection the request came in on. */
  readonly connection: ConnectionInfo
  /**
   * Aborts when the request is abandoned: a call or stream when the client cancels it or the
   * connection closes; a subscribe or publish when the connection closes.
   */
  readonly signal: AbortSignal
  /** Runs what comes below; call it once, and return what it resolves with. */
  readonly next: Next
}

/**
 * A middleware over context `TCtx` that adds `TAdd` to it. Throw a `PatchbayError` to refuse
 * (the client gets it as it is); anything else thrown reaches the client as INTERNAL and is
 * logged once through the server's `logger`.
 */
export type Middleware<TCtx, TAdd extends object = NoContext> = (options: MiddlewareOptions<TCtx>) => MaybePromise<MiddlewareResult<TAdd>>

/** A middleware as the runtime holds it: context types are the chain's business. */
export type AnyMiddleware = (options: MiddlewareOptions<unknown>) => unknown

/**
 * A chain of middleware, built from the server's context type `TRoot` (tRPC's
 * `t.procedure`; `use` makes its `protectedProcedure`). `TCtx` is the context after the
 * chain. Chains are immutable: `use` returns a new one, so one chain can be extended several
 * ways.
 */
export interface Chain<TRoot, TCtx> {
  /** A new chain with `middleware` after this one's; the context type follows its `next`. */
  use<TAdd extends object = NoContext>(middleware: Middleware<TCtx, TAdd>): Chain<TRoot, ExtendContext<TCtx, TAdd>>
  /** Wraps the handler of one procedure; `definition` is the router's (checked at `createServer`). */
  handler<P extends AnyProcedure>(definition: P, handler: Handler<P, TCtx>): Handler<P, TRoot>
  /** Wraps the handler of one stream: the chain runs around the stream's start. */
  handler<S extends AnyStream>(definition: S, handler: StreamHandler<S, TCtx>): StreamHandler<S, TRoot>
  /** Wraps every handler of a router subtree (`definition`: the router's node there). */
  handlers<R extends RouterDef>(definition: R, handlers: Handlers<R, TCtx>): Handlers<R, TRoot>
  /** Wraps one topic's subscribe and publish; its `authorize` hooks see the chain's context. */
  topic<T extends AnyTopic>(definition: T, options: TopicOptions<T, TCtx>): TopicOptions<T, TRoot>
  /** Wraps the topics of a router subtree, as `topic` does for one. */
  topics<R extends RouterDef>(definition: R, options: TopicsOptions<R, TCtx>): TopicsOptions<R, TRoot>
}

/** Where a chain was attached: its middleware, and the router node it was made for. */
interface Attachment {
  readonly links: readonly Link[]
  readonly definition: unknown
  readonly tree: 'handlers' | 'topics'
  /** On a wrapped handler: the function to run. */
  readonly handler?: unknown
}

/** One `use`: its identity says whether a nested chain repeats it (it then runs once). */
interface Link {
  readonly middleware: AnyMiddleware
}

const ATTACHED = Symbol('patchbay.middleware')

/** Starts a chain for a server whose context type is `TCtx`. */
export function createChain<TCtx>(): Chain<TCtx, TCtx> {
  return makeChain([]) as Chain<TCtx, TCtx>
}

function makeChain(links: readonly Link[]): Chain<unknown, unknown> {
  const subtree = (definition: unknown, options: unknown, tree: Attachment['tree']): object => {
    if (typeof options !== 'object' || options === null) throw new TypeError(`${tree} must be an object`)
    // A copy: the caller's object stays as it was, and may be wrapped by another chain too.
    const copy = { ...options }
    const inner = attachmentOf(options)
    const attachment: Attachment = { links: inner === undefined ? links : [...links, ...inner.links], definition, tree }
    Object.defineProperty(copy, ATTACHED, { value: attachment })
    return copy
  }
  return {
    use: (middleware: unknown) => {
      if (typeof middleware !== 'function') throw new TypeError('use() takes a middleware function')
      return makeChain([...links, Object.freeze({ middleware: middleware as AnyMiddleware })])
    },
    handler: (definition: unknown, handler: unknown) => {
      if (typeof handler !== 'function') throw new TypeError('handler() takes the handler function')
      const inner = attachmentOf(handler)
      // Called directly (a unit test), it is the handler without the chain.
      const wrapper = (options: unknown): unknown => (handler as (options: unknown) => unknown)(options)
      const attachment: Attachment = {
        links: inner === undefined ? links : [...links, ...inner.links],
        definition,
        tree: 'handlers',
        handler: inner?.handler ?? handler,
      }
      Object.defineProperty(wrapper, ATTACHED, { value: attachment })
      return wrapper
    },
    handlers: (definition: unknown, handlers: unknown) => subtree(definition, handlers, 'handlers'),
    topic: (definition: unknown, options: unknown) => subtree(definition, options, 'topics'),
    topics: (definition: unknown, options: unknown) => subtree(definition, options, 'topics'),
  } as unknown as Chain<unknown, unknown>
}

function attachmentOf(value: unknown): Attachment | undefined {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return undefined
  return Object.hasOwn(value, ATTACHED) ? ((value as { [ATTACHED]: Attachment })[ATTACHED]) : undefined
}

/** What walking a handlers or topics tree to one path found. */
export interface Found {
  /** The value at the path (a wrapped handler unwrapped), or undefined. */
  readonly value: unknown
  /** The middleware met on the way, outer first, each `use` once; undefined when none. */
  readonly middleware: readonly AnyMiddleware[] | undefined
}

/**
 * Walks `tree` down `path`, collecting the chains attached on the way: outer subtree first,
 * then inner ones, then the leaf's own. A chain attached for another router node than the one
 * it sits at, or a topics chain among handlers, throws: the wrong wrapper fails at start.
 */
export function walk(tree: unknown, api: RouterDef, path: string, kind: Attachment['tree']): Found {
  const links: Link[] = []
  let node: unknown = tree
  let definition: unknown = api
  let at = ''
  const collect = (): void => {
    const attachment = attachmentOf(node)
    if (attachment === undefined) return
    const where = at === '' ? kind : `${kind}.${at}`
    if (attachment.tree !== kind) throw new TypeError(`${where}: a chain's ${attachment.tree}() result is not ${kind}`)
    if (attachment.definition !== definition) throw new TypeError(`${where}: wrapped for another router node than "${at === '' ? '(root)' : at}"`)
    // A nested chain that extends an outer one (`authed.use(admin)` inside `authed`) repeats
    // the outer links: each runs once, where it first appears.
    for (const link of attachment.links) if (!links.includes(link)) links.push(link)
    if (attachment.handler !== undefined) node = attachment.handler
  }
  collect()
  for (const segment of path.split('.')) {
    // Own properties only: a handler tree must not find `toString` on Object.prototype.
    node = typeof node === 'object' && node !== null && Object.hasOwn(node, segment) ? (node as Record<string, unknown>)[segment] : undefined
    definition = (definition as Record<string, unknown>)[segment]
    at = at === '' ? segment : `${at}.${segment}`
    collect()
  }
  return { value: node, middleware: links.length === 0 ? undefined : links.map((link) => link.middleware) }
}

/** What the runtime knows of the request a chain wraps. */
export interface ChainRequest {
  readonly kind: MiddlewareKind
  readonly path: string
  readonly input: unknown
  readonly data: unknown
  readonly connection: ConnectionInfo
  /** Its abort side; `signal` is read only when a middleware reads it (it may be made then). */
  readonly abort: { readonly signal: AbortSignal }
}

/** next()'s result; only this module makes them, so a middleware cannot forge one. */
class Result implements MiddlewareResult {
  constructor(readonly output: unknown) {}
}

/** One middleware's options: a class, so `signal` stays lazy and nothing else is a closure but `next`. */
class Options implements MiddlewareOptions<unknown> {
  constructor(
    private readonly request: ChainRequest,
    readonly ctx: unknown,
    readonly next: Next,
  ) {}

  get path(): string {
    return this.request.path
  }

  get kind(): MiddlewareKind {
    return this.request.kind
  }

  get input(): unknown {
    return this.request.input
  }

  get data(): unknown {
    return this.request.data
  }

  get connection(): ConnectionInfo {
    return this.request.connection
  }

  get signal(): AbortSignal {
    return this.request.abort.signal
  }
}

const ignore = (): void => {}

/**
 * Runs `middleware` around `inner` (the handler, a stream's start, a topic's authorize), each
 * given the context the one above it passed down. Resolves with what `inner` returned; rejects
 * with whatever was thrown, as it was thrown, so the caller turns it into the client's error
 * (and logs it) once.
 */
export function runChain(middleware: readonly AnyMiddleware[], request: ChainRequest, ctx: unknown, inner: (ctx: unknown) => unknown): Promise<unknown> {
  return step(middleware, 0, request, ctx, inner).then(outputOf)
}

function outputOf(result: Result): unknown {
  return result.output
}

function step(middleware: readonly AnyMiddleware[], index: number, request: ChainRequest, ctx: unknown, inner: (ctx: unknown) => unknown): Promise<Result> {
  const current = middleware[index]
  if (current === undefined) {
    try {
      return Promise.resolve(inner(ctx)).then((output) => new Result(output))
    } catch (error) {
      return Promise.reject(error)
    }
  }
  let below: Promise<Result> | undefined
  const next = ((options?: { ctx?: unknown }): Promise<Result> => {
    if (below !== undefined) throw new TypeError(`A middleware of "${request.path}" called next() twice`)
    const added = options?.ctx
    below = step(middleware, index + 1, request, added === undefined ? ctx : extend(ctx, added), inner)
    // A middleware that returns without awaiting next() must not leave a rejection unhandled;
    // its own return is checked below.
    below.catch(ignore)
    return below
  }) as Next
  let returned: unknown
  try {
    returned = current(new Options(request, ctx, next))
  } catch (error) {
    return Promise.reject(error)
  }
  return Promise.resolve(returned).then((result) => {
    if (below === undefined) throw new TypeError(`A middleware of "${request.path}" returned without calling next()`)
    if (!(result instanceof Result)) throw new TypeError(`A middleware of "${request.path}" did not return what next() resolved with`)
    return result
  })
}

/** A shallow copy of `ctx` with `added` laid over it (a non-object ctx is replaced). */
function extend(ctx: unknown, added: unknown): unknown {
  if (typeof added !== 'object' || added === null) throw new TypeError('next({ ctx }) takes an object')
  return typeof ctx === 'object' && ctx !== null ? { ...ctx, ...added } : { ...added }
}
