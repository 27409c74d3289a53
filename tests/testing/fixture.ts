/**
 * The router and server the `@patchbay/server/testing` suites share: procedures with
 * middleware, a stream that counts its pulls, topics, and handlers a test can hold open.
 */
import { z } from 'zod'
import { ErrorCode, PatchbayError, procedure, router, stream, topic } from '@patchbay/core'
import { createChain, createServer, type HandshakeInfo, type ServerOptions } from '@patchbay/server'

export const api = router({
  math: {
    add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }),
    /** Its output schema is a number; the handler returns a string (validateOutput catches it). */
    broken: procedure({ output: z.number() }),
  },
  me: procedure({ output: z.object({ name: z.string(), trace: z.array(z.string()) }) }),
  forbidden: procedure({ output: z.null() }),
  /** Never answers; records its signal's abort. */
  hang: procedure({ input: z.object({ tag: z.string() }), output: z.never() }),
  count: stream({ input: z.object({ to: z.number().int() }), output: z.object({ n: z.number() }) }),
  blob: procedure({ input: z.object({ size: z.number().int() }), output: z.string() }),
  /** Returns a Date: not plain data, so no encoding carries it (docs/protocol.md §9). */
  date: procedure({ output: z.date() }),
  news: topic({ params: z.object({ room: z.string() }), message: z.object({ text: z.string() }) }),
  firehose: topic({ message: z.object({ n: z.number(), pad: z.string() }) }),
})

export interface Ctx {
  user: string | null
}

export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

/** What the handlers tell the test. */
export interface Probe {
  /** Middleware and handler steps, in order. */
  trace: string[]
  /** Why each `hang` call's signal aborted, by tag. */
  aborted: Map<string, Promise<unknown>>
  abortedWith: Map<string, (reason: unknown) => void>
  /** How many items `count` produced so far (pulled by credit). */
  produced: number
  /** Resolves when `count`'s generator ran its finally. */
  countEnded: Promise<void>
}

export const KiB = 1024

export function makeServer(options: Partial<ServerOptions<typeof api, Ctx>> = {}) {
  const probe: Probe = { trace: [], aborted: new Map(), abortedWith: new Map(), produced: 0, countEnded: Promise.resolve() }
  const base = createChain<Ctx>().use(async ({ path, next }) => {
    probe.trace.push(`outer>${path}`)
    const result = await next()
    probe.trace.push(`outer<${path}`)
    return result
  })
  const authed = base.use(({ ctx, next }) => {
    if (ctx.user === null) throw new PatchbayError(ErrorCode.UNAUTHORIZED, 'Sign in first')
    probe.trace.push('authed')
    return next({ ctx: { user: ctx.user } })
  })
  const server = createServer(api, {
    backpressure: { highWaterMark: 64 * KiB, maxBuffered: 512 * KiB },
    closeTimeout: 30_000,
    // Over a socket the user comes from the URL; the pair supplies ctx itself.
    context: ({ url }: HandshakeInfo): Ctx => ({ user: url.searchParams.get('user') }),
    ...options,
    handlers: base.handlers(api, {
      math: {
        add: ({ input }) => input.a + input.b,
        broken: () => 'not a number' as unknown as number,
      },
      me: authed.handler(api.me, ({ ctx }) => {
        // ctx.user is a string here: the middleware above narrowed it.
        probe.trace.push(`handler:${ctx.user.toUpperCase()}`)
        return { name: ctx.user, trace: [...probe.trace] }
      }),
      forbidden: () => {
        throw new PatchbayError(ErrorCode.FORBIDDEN, 'Not yours')
      },
      hang: ({ input, signal }) => {
        const aborted = deferred<unknown>()
        probe.aborted.set(input.tag, aborted.promise)
        signal.addEventListener('abort', () => aborted.resolve(signal.reason))
        return new Promise<never>(() => {})
      },
      count: ({ input }) => {
        const ended = deferred()
        probe.countEnded = ended.promise
        probe.produced = 0
        return (async function* () {
          try {
            for (let n = 1; n <= input.to; n++) {
              probe.produced = n
              yield { n }
            }
          } finally {
            ended.resolve()
          }
        })()
      },
      blob: ({ input }) => 'x'.repeat(input.size),
      date: () => new Date(0),
    }),
    topics: { news: {}, firehose: {} },
  })
  return { server, probe }
}
