/**
 * Middleware end to end (docs/guide/middleware.md): order (outer subtree, inner subtree, the
 * procedure's own), context extension, refusals and errors (a PatchbayError as it is, anything
 * else INTERNAL and logged once), timing around next(), streams (the chain wraps the start),
 * topic subscribe and publish (before `authorize`), and idempotent calls answered from the
 * dedupe window, which run no middleware (docs/protocol.md §4.2).
 *
 * The per-encoding suite runs the real client and sessions through the in-memory pair
 * (`@patchbay/server/testing`): middleware is the session's business, and a socket adds
 * nothing to it. The dedupe-window suite keeps its raw sockets (it sends frames by hand).
 */
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { ErrorCode, PatchbayError, procedure, router, stream, topic, type Encoding } from '@patchbay/core'
import { createChain, createServer, type HandshakeInfo, type Logger, type PatchbayServer } from '@patchbay/server'
import { createClient, type Client } from '@patchbay/client'
import { connectInMemory, type InMemoryNetwork } from '@patchbay/server/testing'
import { connectRaw, type RawClient } from '../conformance/support.js'
import { closeAfterEach, type Closable } from '../support/teardown.js'
import { deferred } from './fixtures.js'
import { codec } from '../support/codecs.js'

const api = router({
  open: procedure({ input: z.object({ n: z.string().transform((s) => s.length) }), output: z.number() }),
  me: procedure({ output: z.string() }),
  nested: {
    who: procedure({ output: z.string() }),
  },
  admin: {
    ban: procedure({ input: z.object({ id: z.string() }), output: z.string() }),
    slow: procedure({ output: z.string() }),
    crash: procedure({ output: z.null() }),
    place: procedure({ input: z.object({ n: z.number() }), output: z.number(), idempotent: true }),
    ticks: stream({ input: z.object({ count: z.number() }), output: z.string() }),
    audit: topic({ params: z.object({ room: z.string() }), message: z.object({ text: z.string() }), publish: 'client' }),
  },
})

interface User {
  name: string
  admin: boolean
}
interface Ctx {
  user: User | null
}

/** What the middleware saw, in order. */
let log: string[] = []
let errors: unknown[] = []
let logged: Record<string, unknown>[] = []
let server: Pick<PatchbayServer, 'close' | 'stats'> | undefined
let releaseSlow = deferred<string>()
let slowStarted = deferred()
let placed = 0
let placeStarted = deferred()
let placeGate = deferred()
const clients = closeAfterEach<Closable>(async () => {
  await server?.close()
  server = undefined
  log = []
  signals = new Map()
  errors = []
  logged = []
  releaseSlow = deferred<string>()
  slowStarted = deferred()
  placed = 0
  placeStarted = deferred()
  placeGate = deferred()
})

const logger: Logger = {
  error: (fields) => logged.push(fields),
  warn: () => {},
  info: () => {},
  debug: () => {},
}

/** Users by the `user` query parameter: `ann` is an admin, `bob` is not, none is anonymous. */
const USERS: Record<string, User> = { ann: { name: 'ann', admin: true }, bob: { name: 'bob', admin: false } }

const base = createChain<Ctx>()
/** Signals middleware saw, by path. */
let signals = new Map<string, AbortSignal>()
/** Every request, outermost: records what it saw. */
const root = base.use(async ({ path, kind, signal, next }) => {
  log.push(`root> ${kind} ${path}`)
  signals.set(`${kind} ${path}`, signal)
  try {
    return await next()
  } finally {
    log.push(`<root ${path}`)
  }
})
/** The auth middleware: `ctx.user` is non-null below it. */
const authed = base.use(({ ctx, next }) => {
  log.push('authed>')
  if (ctx.user === null) throw new PatchbayError(ErrorCode.UNAUTHORIZED, 'Sign in first', { data: { hint: 'token' } })
  return next({ ctx: { user: ctx.user } })
})
const admin = authed.use(({ ctx, next }) => {
  log.push('admin>')
  if (!ctx.user.admin) throw new PatchbayError(ErrorCode.FORBIDDEN, 'Admins only')
  return next({ ctx: { since: 'today' } })
})
/** A procedure's own: the innermost. */
const own = createChain<Ctx & { user: User; since: string }>().use(async ({ input, ctx, connection, next }) => {
  log.push(`own> ${JSON.stringify(input)} ${ctx.user.name} ${ctx.since} ${typeof connection.id}`)
  return next()
})

async function start(): Promise<string> {
  const { port } = await build().listen()
  return `ws://127.0.0.1:${port}`
}

/** The server with no port: clients reach it in memory, their `token` naming the user. */
function startInMemory(): InMemoryNetwork {
  return connectInMemory(build(), { context: ({ token }) => ({ user: USERS[token ?? ''] ?? null }) })
}

function build() {
  const created = createServer(api, {
    logger,
    onError: (error) => errors.push(error),
    // Typed parameter: with wrapped subtrees, TypeScript infers the context type only from a hook
    // whose parameter is typed (docs/guide/middleware.md).
    context: ({ url }: HandshakeInfo) => ({ user: USERS[url.searchParams.get('user') ?? ''] ?? null }),
    handlers: root.handlers(api, {
      open: ({ input, ctx }) => {
        log.push(`open ${input.n} ${ctx.user === null ? 'anonymous' : ctx.user.name}`)
        return input.n
      },
      me: authed.handler(api.me, ({ ctx }) => ctx.user.name),
      // `admin` extends `authed`: inside an `authed` subtree its `authed` link runs once.
      nested: authed.handlers(api.nested, {
        who: admin.handler(api.nested.who, ({ ctx }) => `${ctx.user.name} since ${ctx.since}`),
      }),
      admin: admin.handlers(api.admin, {
        ban: own.handler(api.admin.ban, ({ input, ctx }) => {
          log.push(`ban ${input.id} by ${ctx.user.name}`)
          return `banned ${input.id}`
        }),
        slow: async () => {
          log.push('slow runs')
          slowStarted.resolve()
          const answer = await releaseSlow.promise
          log.push('slow answered')
          return answer
        },
        crash: () => {
          throw new Error('database password is hunter2')
        },
        place: async ({ input }) => {
          placed++
          placeStarted.resolve()
          await placeGate.promise
          return input.n * 2
        },
        async *ticks({ input, ctx }) {
          log.push(`ticks start for ${ctx.user.name}`)
          for (let i = 0; i < input.count; i++) yield `${ctx.since} ${i}`
        },
      }),
    }),
    topics: root.topics(api, {
      admin: admin.topics(api.admin, {
        audit: {
          authorize: ({ params, ctx }) => {
            log.push(`authorize ${params.room} ${ctx.user.name} ${ctx.since}`)
            return params.room !== 'secret'
          },
          authorizePublish: ({ data, ctx }) => {
            log.push(`authorizePublish ${data.text} ${ctx.user.name}`)
            return data.text !== 'forbidden'
          },
        },
      }),
    }),
  })
  server = created
  return created
}

/** A client of `ann`, `bob`, or nobody: over a socket (`target` its URL) or in memory. */
function connect(target: string | InMemoryNetwork, encoding: Encoding, user?: string): Client<typeof api> {
  const transport =
    typeof target === 'string'
      ? { url: user === undefined ? target : `${target}/?user=${user}`, WebSocket }
      : { url: target.url, WebSocket: target.WebSocket, ...(user === undefined ? {} : { token: user }) }
  const client = createClient(api, { ...transport, encodings: [codec(encoding)] })
  clients.push(client)
  return client
}

async function failure(promise: Promise<unknown>): Promise<PatchbayError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(PatchbayError)
  return error as PatchbayError
}

describe.each<Encoding>(['json', 'msgpack'])('middleware (%s)', (encoding) => {
  it('runs outer subtree first, then inner, then the procedure\'s own, around the handler; each use once', async () => {
    const url = startInMemory()
    const ann = connect(url, encoding, 'ann')
    expect(await ann.admin.ban({ id: 'x' })).toBe('banned x')
    expect(log).toEqual([
      'root> call admin.ban',
      'authed>',
      'admin>',
      'own> {"id":"x"} ann today string',
      'ban x by ann',
      '<root admin.ban',
    ])
  })

  it('runs a chain that extends an outer one once per use: the shared links do not run twice', async () => {
    const url = startInMemory()
    const ann = connect(url, encoding, 'ann')
    expect(await ann.nested.who()).toBe('ann since today')
    expect(log).toEqual(['root> call nested.who', 'authed>', 'admin>', '<root nested.who'])
  })

  it('gives the handler the extended context, a copy: the connection\'s own ctx is unchanged', async () => {
    const url = startInMemory()
    const ann = connect(url, encoding, 'ann')
    expect(await ann.me()).toBe('ann')
    // `open` sits under the root chain only: it sees the connection's ctx, with the parsed input.
    expect(await ann.open({ n: 'four' })).toBe(4)
    expect(log).toContain('open 4 ann')
    const nobody = connect(url, encoding)
    expect(await nobody.open({ n: 'ab' })).toBe(2)
    expect(log).toContain('open 2 anonymous')
  })

  it('sends a PatchbayError a middleware throws to the client as it is; nothing is logged, the handler does not run', async () => {
    const url = startInMemory()
    const nobody = connect(url, encoding)
    const refused = await failure(nobody.me())
    expect(refused).toMatchObject({ code: ErrorCode.UNAUTHORIZED, message: 'Sign in first', data: { hint: 'token' } })
    const bob = connect(url, encoding, 'bob')
    const forbidden = await failure(bob.admin.ban({ id: 'x' }))
    expect(forbidden).toMatchObject({ code: ErrorCode.FORBIDDEN, message: 'Admins only' })
    expect(log.some((line) => line.startsWith('ban '))).toBe(false)
    // The outer middleware saw the refusal come out of next() (its finally ran).
    expect(log).toContain('<root admin.ban')
    expect(logged).toEqual([])
    expect(errors).toEqual([])
  })

  it('times a call around next(): it resumes after the handler answered', async () => {
    const url = startInMemory()
    const ann = connect(url, encoding, 'ann')
    const answer = ann.admin.slow()
    await slowStarted.promise
    expect(log).not.toContain('<root admin.slow')
    releaseSlow.resolve('done')
    expect(await answer).toBe('done')
    expect(log.indexOf('<root admin.slow')).toBeGreaterThan(log.indexOf('slow answered'))
  })

  it('gives a call\'s signal, aborted by a cancel; a subscribe\'s, aborted when the connection closes', async () => {
    const url = startInMemory()
    const ann = connect(url, encoding, 'ann')
    const cancel = new AbortController()
    const answer = ann.admin.slow(undefined, { signal: cancel.signal }).catch((error: unknown) => error)
    await slowStarted.promise
    const callSignal = signals.get('call admin.slow') as AbortSignal
    expect(callSignal.aborted).toBe(false)
    const aborted = new Promise((resolve) => callSignal.addEventListener('abort', () => resolve(callSignal.reason)))
    cancel.abort()
    expect(await aborted).toMatchObject({ code: ErrorCode.CANCELLED })
    expect(((await answer) as PatchbayError).code).toBe(ErrorCode.CANCELLED)
    await ann.admin.audit.subscribe({ room: 'ops' }, () => {}).ready
    const subscribeSignal = signals.get('subscribe admin.audit') as AbortSignal
    const lost = new Promise((resolve) => subscribeSignal.addEventListener('abort', () => resolve(subscribeSignal.reason)))
    expect(subscribeSignal.aborted).toBe(false)
    await ann.close()
    expect(await lost).toMatchObject({ code: ErrorCode.CONNECTION_LOST })
  })

  it('turns anything else thrown (in a middleware or a handler below one) into INTERNAL, logged once', async () => {
    const url = startInMemory()
    const ann = connect(url, encoding, 'ann')
    const crashed = await failure(ann.admin.crash())
    expect(crashed).toMatchObject({ code: ErrorCode.INTERNAL, message: 'Internal server error' })
    // The handler's error passed up through three middleware and was logged once, at the top.
    expect(logged).toHaveLength(1)
    expect(logged[0]).toMatchObject({ path: 'admin.crash' })
    expect((logged[0]?.err as Error).message).toBe('database password is hunter2')
    expect(errors).toHaveLength(1)
  })

  it('streams: the chain wraps the start, with the extended context; a refusal ends the stream before the generator runs', async () => {
    const url = startInMemory()
    const ann = connect(url, encoding, 'ann')
    const items: string[] = []
    for await (const item of ann.admin.ticks({ count: 3 })) items.push(item)
    expect(items).toEqual(['today 0', 'today 1', 'today 2'])
    // The handler returned its generator inside the chain; the generator's body runs at the
    // first pull, after the chain resolved.
    expect(log).toEqual(['root> stream admin.ticks', 'authed>', 'admin>', '<root admin.ticks', 'ticks start for ann'])
    log = []
    const bob = connect(url, encoding, 'bob')
    const refused = await failure((async () => {
      for await (const item of bob.admin.ticks({ count: 3 })) items.push(item)
    })())
    expect(refused.code).toBe(ErrorCode.FORBIDDEN)
    expect(log).not.toContain('ticks start for bob')
  })

  it('topics: the chain runs on subscribe and publish before authorize, which sees the extended context', async () => {
    const url = startInMemory()
    const ann = connect(url, encoding, 'ann')
    const heard = deferred<string>()
    const off = ann.admin.audit.subscribe({ room: 'ops' }, (message) => heard.resolve(message.text))
    await off.ready
    expect(log).toEqual(['root> subscribe admin.audit', 'authed>', 'admin>', 'authorize ops ann today', '<root admin.audit'])
    log = []
    expect(await ann.admin.audit.publish({ room: 'ops' }, { text: 'hello' })).toEqual({ delivered: 1 })
    expect(log).toEqual(['root> publish admin.audit', 'authed>', 'admin>', 'authorizePublish hello ann', '<root admin.audit'])
    expect(await heard.promise).toBe('hello')
    // authorize refusing: FORBIDDEN comes out of next(), so the middleware above sees it.
    log = []
    const secret = ann.admin.audit.subscribe({ room: 'secret' }, () => {})
    expect((await failure(secret.ready)).code).toBe(ErrorCode.FORBIDDEN)
    expect(log).toEqual(['root> subscribe admin.audit', 'authed>', 'admin>', 'authorize secret ann today', '<root admin.audit'])
    expect((await failure(ann.admin.audit.publish({ room: 'ops' }, { text: 'forbidden' }))).code).toBe(ErrorCode.FORBIDDEN)
    // A middleware's refusal: the non-admin never reaches authorize.
    log = []
    const bob = connect(url, encoding, 'bob')
    expect((await failure(bob.admin.audit.subscribe({ room: 'ops' }, () => {}).ready)).code).toBe(ErrorCode.FORBIDDEN)
    expect(log.some((line) => line.startsWith('authorize'))).toBe(false)
    expect(logged).toEqual([])
  })
})

describe('middleware and the dedupe window (docs/protocol.md §4.2)', () => {
  it('runs for the run of a keyed call only: a retry that joins it or gets its outcome runs no middleware', async () => {
    const url = await start()
    const first = await raw(url)
    const retry = await raw(url)
    const key = 'mw-key-1'
    first.send({ t: 'call', id: 1, path: 'admin.place', input: { n: 21 }, key })
    await placeStarted.promise
    // Joins the run still going.
    retry.send({ t: 'call', id: 1, path: 'admin.place', input: { n: 21 }, key })
    placeGate.resolve()
    expect(await first.next()).toEqual({ t: 'result', id: 1, output: 42 })
    expect(await retry.next()).toEqual({ t: 'result', id: 1, output: 42 })
    // Gets the remembered outcome.
    retry.send({ t: 'call', id: 2, path: 'admin.place', input: { n: 21 }, key })
    expect(await retry.next()).toEqual({ t: 'result', id: 2, output: 42 })
    expect(placed).toBe(1)
    expect(log.filter((line) => line === 'admin>')).toHaveLength(1)
    expect(server?.stats.deduplicated).toBe(2)
  })

  it('remembers a middleware refusal as the outcome of the run, like a handler error', async () => {
    const url = await start()
    const bob = await raw(url, 'bob')
    bob.send({ t: 'call', id: 1, path: 'admin.place', input: { n: 1 }, key: 'mw-key-2' })
    expect(await bob.next()).toMatchObject({ t: 'error', id: 1, error: { code: ErrorCode.FORBIDDEN } })
    const ann = await raw(url, 'ann')
    ann.send({ t: 'call', id: 1, path: 'admin.place', input: { n: 1 }, key: 'mw-key-2' })
    expect(await ann.next()).toMatchObject({ t: 'error', id: 1, error: { code: ErrorCode.FORBIDDEN } })
    expect(placed).toBe(0)
    expect(log.filter((line) => line === 'admin>')).toHaveLength(1)
  })
})

describe('middleware mistakes', () => {
  const small = router({ a: procedure({ output: z.number() }), b: procedure({ output: z.number() }) })

  it('a middleware that does not return next()\'s result, or calls next() twice, fails the call with INTERNAL, logged', async () => {
    const chain = createChain<undefined>()
    const forgets = chain.use(async ({ next }) => {
      await next()
      return undefined as never
    })
    const twice = chain.use(async ({ next }) => {
      await next()
      return next()
    })
    const created = createServer(small, { logger, handlers: { a: forgets.handler(small.a, () => 1), b: twice.handler(small.b, () => 2) } })
    server = created
    const { port } = await created.listen()
    const client = createClient(small, { url: `ws://127.0.0.1:${port}`, WebSocket })
    clients.push(client)
    expect((await failure(client.a())).code).toBe(ErrorCode.INTERNAL)
    expect((await failure(client.b())).code).toBe(ErrorCode.INTERNAL)
    expect(logged.map((fields) => (fields.err as Error).message)).toEqual([
      'A middleware of "a" did not return what next() resolved with',
      'A middleware of "b" called next() twice',
    ])
  })

  it('a chain wrapped for another router node fails createServer', () => {
    const chain = createChain<undefined>().use(({ next }) => next())
    expect(() => createServer(small, { handlers: { a: chain.handler(small.b, () => 1), b: () => 2 } })).toThrow(/handlers\.a: wrapped for another router node/)
    expect(() => createServer(api, { handlers: chain.handlers(small, {} as never) as never })).toThrow(/wrapped for another router node than "\(root\)"/)
  })
})

async function raw(url: string, user = 'ann'): Promise<RawClient> {
  const client = await connectRaw(`${url}/?user=${user}`, 'json')
  clients.push({ close: () => client.ws.close() })
  return client
}
