/**
 * Stream procedures end to end (docs/protocol.md §15): an async generator on the server, a
 * `for await` loop on the client, credit-based flow control between them, and cancellation
 * by break, abort and disconnect, each observed on the server (its `finally` runs).
 */
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { ErrorCode, PatchbayError, router, stream, type Encoding } from '@patchbay/core'
import { createServer, type PatchbayServer } from '@patchbay/server'
import { createClient, type Client } from '@patchbay/client'
import { closeAfterEach } from '../support/teardown.js'
import { codec } from '../support/codecs.js'

const api = router({
  market: {
    ticks: stream({ input: z.object({ symbol: z.string().min(1), count: z.number().int().optional() }), output: z.object({ symbol: z.string(), n: z.number().int() }) }),
    bad: stream({ output: z.number() }),
    failing: stream({ output: z.number() }),
  },
  counter: stream({ output: z.number() }),
})

/** What the server's generators report, per run. */
interface Run {
  produced: number
  finished: boolean
  aborted: boolean
}

let server: PatchbayServer
let runs: Run[] = []
let finallyWaiters: (() => void)[] = []
const clients = closeAfterEach<Client<typeof api>>(async () => {
  await server?.close()
  runs = []
  finallyWaiters = []
})

function ended(): Promise<void> {
  return new Promise((resolve) => finallyWaiters.push(resolve))
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function start(): Promise<string> {
  server = createServer(api, {
    handlers: {
      market: {
        async *ticks({ input, signal }) {
          const run: Run = { produced: 0, finished: false, aborted: false }
          runs.push(run)
          signal.addEventListener('abort', () => (run.aborted = true))
          try {
            for (let n = 1; input.count === undefined || n <= input.count; n++) {
              run.produced = n
              yield { symbol: input.symbol, n }
            }
          } finally {
            run.finished = true
            for (const wake of finallyWaiters.splice(0)) wake()
          }
        },
        async *bad() {
          yield 1
          yield 'two' as unknown as number
          yield 3
        },
        async *failing() {
          yield 1
          throw new PatchbayError(ErrorCode.CONFLICT, 'the feed broke')
        },
      },
      async *counter({ signal }) {
        const run: Run = { produced: 0, finished: false, aborted: false }
        runs.push(run)
        try {
          for (let n = 1; ; n++) {
            // A producer that waits between items, as real feeds do; the signal cuts it short.
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, 5)
              signal.addEventListener('abort', () => {
                clearTimeout(timer)
                resolve()
              })
            })
            if (signal.aborted) {
              run.aborted = true
              return
            }
            run.produced = n
            yield n
          }
        } finally {
          run.finished = true
          for (const wake of finallyWaiters.splice(0)) wake()
        }
      },
    },
  })
  const { port } = await server.listen()
  return `ws://127.0.0.1:${port}`
}

function client(url: string, encoding: Encoding = 'json'): Client<typeof api> {
  const made = createClient(api, { url, WebSocket, encodings: [codec(encoding)], reconnect: false })
  clients.push(made)
  return made
}

describe.each(['json', 'msgpack'] as const)('streams over %s', (encoding) => {
  it('delivers every item in order and ends when the generator returns', async () => {
    const url = await start()
    const items: number[] = []
    for await (const tick of client(url, encoding).market.ticks({ symbol: 'ACME', count: 100 })) {
      expect(tick.symbol).toBe('ACME')
      items.push(tick.n)
    }
    expect(items).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
    expect(runs[0]).toMatchObject({ produced: 100, finished: true, aborted: false })
  })

  it('drops and counts the items that cross a cancel; the connection and its other requests go on', async () => {
    // docs/protocol.md §5 "What crosses a cancel", §15 "Items after a cancel": with a large
    // window the server has sent thousands of items before it reads the cancel.
    const url = await start()
    const made = client(url, encoding)
    const finished = ended()
    for await (const tick of made.market.ticks({ symbol: 'ACME' }, { credit: 8192 })) {
      expect(tick.n).toBe(1)
      break
    }
    await finished
    // Frames arrive in order: once a later stream's items are here, every item sent before
    // the cancel was read has arrived too.
    const after: number[] = []
    for await (const tick of made.market.ticks({ symbol: 'NEXT', count: 3 })) after.push(tick.n)
    expect(after).toEqual([1, 2, 3])
    expect(made.state).toBe('open')
    expect(server.connectionCount).toBe(1)
    expect(server.stats.violations).toBe(0)
    // Some items arrived with the first (and were let go with the loop); the rest came after the cancel.
    const late = made.stats.lateReplies
    expect(late).toBeGreaterThan(0)
    expect(late).toBeLessThan(runs[0]?.produced ?? 0)
  })

  it('pulls the generator only while the consumer has granted credit', async () => {
    const url = await start()
    const ticks = client(url, encoding).market.ticks({ symbol: 'ACME' }, { credit: 8 })
    expect((await ticks.next()).value).toEqual({ symbol: 'ACME', n: 1 })
    await expect.poll(() => runs[0]?.produced).toBe(8)
    // The consumer stalls: the producer stays paused at the credit it was given.
    await pause(150)
    expect(runs[0]?.produced).toBe(8)
    await ticks.next()
    await ticks.next()
    await pause(50)
    expect(runs[0]?.produced).toBe(8) // 3 taken: below half the window, no credit yet
    await ticks.next() // the 4th: credit for 4 goes back
    await expect.poll(() => runs[0]?.produced).toBe(12)
    await pause(50)
    expect(runs[0]?.produced).toBe(12)
    const finished = ended()
    await ticks.return?.()
    await finished
    expect(runs[0]).toMatchObject({ finished: true, aborted: true })
    expect(server.connectionCount).toBe(1)
  })

  it('runs the generator’s finally when the loop breaks', async () => {
    const url = await start()
    const finished = ended()
    let seen = 0
    for await (const value of client(url, encoding).counter()) {
      seen = value
      if (value === 3) break
    }
    await finished
    expect(seen).toBe(3)
    expect(runs[0]?.finished).toBe(true)
  })

  it('an abort signal ends the loop quietly and stops the producer', async () => {
    const url = await start()
    const controller = new AbortController()
    const finished = ended()
    const seen: number[] = []
    for await (const value of client(url, encoding).counter(undefined, { signal: controller.signal })) {
      seen.push(value)
      if (value === 2) controller.abort()
    }
    await finished
    expect(seen).toEqual([1, 2])
    expect(runs[0]).toMatchObject({ finished: true, aborted: true })
  })

  it('a disconnect stops the producer and fails the loop with CONNECTION_LOST', async () => {
    const url = await start()
    const consumer = client(url, encoding)
    const ticks = consumer.counter()
    expect((await ticks.next()).value).toBe(1)
    const finished = ended()
    await consumer.close()
    await finished
    expect(runs[0]?.finished).toBe(true)
    const error = await (async () => {
      for (;;) await ticks.next()
    })().catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(PatchbayError)
    expect((error as PatchbayError).code).toBe(ErrorCode.CONNECTION_LOST)
  })

  it('validates input: a bad one fails the loop with BAD_REQUEST and starts nothing', async () => {
    const url = await start()
    const ticks = client(url, encoding).market.ticks({ symbol: '' })
    await expect(ticks.next()).rejects.toMatchObject({ code: ErrorCode.BAD_REQUEST })
    expect(runs).toHaveLength(0)
  })

  it('validates every item: a bad one ends the stream with INTERNAL after the good ones', async () => {
    const url = await start()
    const seen: number[] = []
    const error = await (async () => {
      for await (const value of client(url, encoding).market.bad()) seen.push(value)
    })().catch((caught: unknown) => caught)
    expect(seen).toEqual([1])
    expect(error).toMatchObject({ code: ErrorCode.INTERNAL })
  })

  it('a generator that throws a PatchbayError ends the loop with that error', async () => {
    const url = await start()
    const seen: number[] = []
    const error = await (async () => {
      for await (const value of client(url, encoding).market.failing()) seen.push(value)
    })().catch((caught: unknown) => caught)
    expect(seen).toEqual([1])
    expect(error).toMatchObject({ code: ErrorCode.CONFLICT, message: 'the feed broke' })
  })

  it('many streams and calls share one socket without mixing items', async () => {
    const url = await start()
    const consumer = client(url, encoding)
    const symbols = ['A', 'B', 'C', 'D', 'E']
    const results = await Promise.all(
      symbols.map(async (symbol) => {
        const ns: number[] = []
        for await (const tick of consumer.market.ticks({ symbol, count: 50 }, { credit: 3 })) {
          expect(tick.symbol).toBe(symbol)
          ns.push(tick.n)
        }
        return ns
      }),
    )
    for (const ns of results) expect(ns).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    expect(runs.every((run) => run.finished)).toBe(true)
  })
})

describe('stream restart after a reconnect', () => {
  const resumable = router({ numbers: stream({ input: z.object({ to: z.number().int() }), output: z.number() }) })

  async function serveNumbers(port: number, seen: ({ received: number } | undefined)[]): Promise<{ server: PatchbayServer; port: number }> {
    const made = createServer(resumable, {
      handlers: {
        async *numbers({ input, resumed }) {
          seen.push(resumed)
          // Skips what this consumer already has: the restart continues without duplicates.
          for (let n = (resumed?.received ?? 0) + 1; n <= input.to; n++) yield n
        },
      },
    })
    return { server: made, port: (await made.listen({ port })).port }
  }

  it('starts the stream again on the next connection, telling the handler how many items the loop received', async () => {
    const startsA: ({ received: number } | undefined)[] = []
    const startsB: ({ received: number } | undefined)[] = []
    const a = await serveNumbers(0, startsA)
    const consumer = createClient(resumable, { url: `ws://127.0.0.1:${a.port}`, WebSocket, reconnect: { retryDelay: 20, maxRetryDelay: 100 } })
    clients.push(consumer as unknown as Client<typeof api>)
    const numbers = consumer.numbers({ to: 40 }, { credit: 4 })
    const seen: number[] = []
    for (let i = 0; i < 3; i++) seen.push((await numbers.next()).value as number)
    await a.server.close() // 1001: the client reconnects, to the next process on the port
    const b = await serveNumbers(a.port, startsB)
    try {
      for (;;) {
        const next = await numbers.next()
        if (next.done === true) break
        seen.push(next.value)
      }
      expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
      expect(startsA).toEqual([undefined])
      expect(startsB).toHaveLength(1)
      // The items received ahead of the loop (credit) count too: they were not lost.
      expect(startsB[0]?.received).toBeGreaterThanOrEqual(3)
    } finally {
      await consumer.close()
      await b.server.close()
    }
  })

  it('with resubscribe: false the loop fails with CONNECTION_LOST instead', async () => {
    const a = await serveNumbers(0, [])
    const consumer = createClient(resumable, { url: `ws://127.0.0.1:${a.port}`, WebSocket, reconnect: { retryDelay: 20, maxRetryDelay: 100 } })
    clients.push(consumer as unknown as Client<typeof api>)
    const numbers = consumer.numbers({ to: 1_000 }, { credit: 2, resubscribe: false })
    await numbers.next()
    await a.server.close()
    const error = await (async () => {
      for (;;) if ((await numbers.next()).done === true) return undefined
    })().catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: ErrorCode.CONNECTION_LOST })
  })
})
