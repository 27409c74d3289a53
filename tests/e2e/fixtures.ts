/**
 * The router and server the end-to-end suites share: a real Patchbay server on 127.0.0.1
 * port 0 with handlers the tests can hold open and release in any order.
 */
import { z } from 'zod'
import WebSocket from 'ws'
import { PatchbayError, procedure, router, type Encoding } from '@patchbay/core'
import { createServer, type PatchbayServer, type ServerOptions, type SyncEngine } from '@patchbay/server'
import { createClient, type Client } from '@patchbay/client'
import { codec } from '../support/codecs.js'

export const api = router({
  math: {
    add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }),
  },
  held: {
    /** Resolves when the test releases it: lets a test answer calls in any order. */
    echo: procedure({ input: z.object({ n: z.number().int() }), output: z.object({ n: z.number() }) }),
    /** Never resolves on its own; reports its signal's abort. */
    forever: procedure({ input: z.object({ tag: z.string() }), output: z.never() }),
  },
  fail: {
    custom: procedure({ input: z.object({ sku: z.string() }), output: z.null() }),
    unauthorized: procedure({ output: z.null() }),
    forbidden: procedure({ output: z.null() }),
    crash: procedure({ output: z.null() }),
    badOutput: procedure({ output: z.number() }),
    date: procedure({ output: z.date() }),
  },
  whoami: procedure({ output: z.object({ user: z.string().nullable() }) }),
  health: procedure({ output: z.literal('ok') }),
  transform: procedure({ input: z.object({ at: z.string().transform((s) => s.length) }), output: z.number() }),
})

/** A bigger router for the client only: its extra procedure exists nowhere on the server. */
export const clientApi = router({ ...api, ghost: procedure({ output: z.null() }) })

export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

export interface Fixture {
  url: string
  /** The server, for `createCaller` (@patchbay/server/testing). */
  server: PatchbayServer<SyncEngine, { user: string | null }, typeof api>
  held: Map<number, () => void>
  heldArrived: (count: number) => Promise<void>
  aborted: Map<string, unknown>
  abortedSignal: (tag: string) => Promise<unknown>
  close: () => Promise<void>
  clients: Client<typeof clientApi>[]
  client: (encoding: Encoding, options?: { timeout?: number; url?: string }) => Client<typeof clientApi>
}

export async function startFixture(options: Partial<Pick<ServerOptions<typeof api, { user: string | null }>, 'exposeErrors' | 'validateOutput'>> = {}): Promise<Fixture> {
  const held = new Map<number, () => void>()
  let heldWaiter: { count: number; resolve: () => void } | undefined
  const aborted = new Map<string, unknown>()
  const abortWaiters = new Map<string, (reason: unknown) => void>()

  const server = createServer(api, {
    ...options,
    context: ({ url }) => ({ user: url.searchParams.get('user') }),
    handlers: {
      math: { add: ({ input }) => input.a + input.b },
      held: {
        echo: ({ input }) =>
          new Promise((resolve) => {
            held.set(input.n, () => resolve({ n: input.n }))
            if (heldWaiter !== undefined && held.size >= heldWaiter.count) heldWaiter.resolve()
          }),
        forever: ({ input, signal }) =>
          new Promise<never>(() => {
            signal.addEventListener('abort', () => {
              aborted.set(input.tag, signal.reason)
              abortWaiters.get(input.tag)?.(signal.reason)
            })
          }),
      },
      fail: {
        custom: ({ input }) => {
          throw new PatchbayError('OUT_OF_STOCK', `no ${input.sku}`, { data: { sku: input.sku, left: 0 } })
        },
        unauthorized: () => {
          throw new PatchbayError('UNAUTHORIZED', 'log in first')
        },
        forbidden: () => {
          throw new PatchbayError('FORBIDDEN', 'admins only')
        },
        crash: () => {
          throw new Error('database password is hunter2')
        },
        // A handler that breaks its contract at run time (the cast hides it from the compiler).
        badOutput: () => 'not a number' as unknown as number,
        date: () => new Date(0),
      },
      whoami: ({ ctx }) => ({ user: ctx.user }),
      health: () => 'ok' as const,
      transform: ({ input }) => input.at,
    },
  })
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
  const url = `ws://127.0.0.1:${port}`
  const clients: Client<typeof clientApi>[] = []
  return {
    url,
    server,
    held,
    heldArrived: (count) => {
      if (held.size >= count) return Promise.resolve()
      const waiter = deferred()
      heldWaiter = { count, resolve: waiter.resolve }
      return waiter.promise
    },
    aborted,
    abortedSignal: (tag) => {
      if (aborted.has(tag)) return Promise.resolve(aborted.get(tag))
      const waiter = deferred<unknown>()
      abortWaiters.set(tag, waiter.resolve)
      return waiter.promise
    },
    clients,
    client: (encoding, clientOptions = {}) => {
      const client = createClient(clientApi, {
        url: clientOptions.url ?? url,
        WebSocket,
        encodings: [codec(encoding)],
        ...(clientOptions.timeout === undefined ? {} : { timeout: clientOptions.timeout }),
      })
      clients.push(client)
      return client
    },
    close: async () => {
      await Promise.all(clients.map((client) => client.close()))
      await server.close()
    },
  }
}
