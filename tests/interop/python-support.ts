/**
 * The server side of the Python interop test: a real Patchbay server on 127.0.0.1 port 0
 * with the paths of docs/protocol.md's examples (math.add, orders.place, reports.build,
 * chat.room, chat.typing, market.ticks) and a few test hooks, recording what its handlers
 * saw (an aborted signal, a stream's pulls) for the test to assert; and the runner that
 * finds a Python with websockets and msgpack and spawns the peer (tests/interop/python).
 */
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'
import { channelOf, PatchbayError, procedure, router, stream, topic, type Encoding } from '@patchbay/core'
import { createServer, type PatchbayServer } from '@patchbay/server'
import { RestartableEngine } from './restartable-engine.js'

export const api = router({
  /** A procedure without input: §3's `[1,2,"health"]`, a call that ends at its path. */
  health: procedure({ output: z.literal('ok') }),
  math: { add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }) },
  orders: {
    /** §4.2's example; sku "gone" fails with a code of the handler's own, with data (§6). */
    place: procedure({ input: z.object({ sku: z.string() }), output: z.object({ order: z.number(), sku: z.string() }), idempotent: true }),
  },
  reports: {
    /** The session's slow call: runs until cancelled, then returns a value nobody may see (§5). */
    build: procedure({ input: z.object({ year: z.number().int() }), output: z.object({ url: z.string() }) }),
    /** Answers once `build` for that year saw its signal abort: the reason's code. */
    aborted: procedure({ input: z.object({ year: z.number().int() }), output: z.object({ code: z.string() }) }),
  },
  held: {
    /** Waits at a gate until `open` releases it: a slow call answered after later ones. */
    wait: procedure({ input: z.object({ gate: z.string(), n: z.number() }), output: z.object({ n: z.number() }) }),
    /** Releases a gate once `count` calls wait at it. */
    open: procedure({ input: z.object({ gate: z.string(), count: z.number().int() }), output: z.object({ released: z.number() }) }),
  },
  chat: {
    room: topic({ params: z.object({ room: z.string() }), message: z.object({ text: z.string() }) }),
    typing: topic({ params: z.object({ room: z.string() }), message: z.object({ who: z.string(), at: z.number().optional() }), publish: 'client' }),
    /**
     * chat.room's sequence starts again under its subscribers, as when a scale-out engine
     * lost it: each subscribed connection gets a lag naming the new epoch (§12.1, §14).
     */
    restart: procedure({ input: z.object({ room: z.string() }), output: z.object({ epoch: z.string() }) }),
    /** Publishes each text to chat.room (a server-published topic) in order. */
    say: procedure({ input: z.object({ room: z.string(), texts: z.array(z.string()) }), output: z.object({ delivered: z.array(z.number()) }) }),
  },
  market: {
    /** A feed where a congested subscriber loses messages and is told with `lag` (§14). */
    feed: topic({ message: z.object({ n: z.number() }), backpressure: 'drop' }),
    /** Publishes `count` messages to market.feed in one burst (one tick). */
    burst: procedure({ input: z.object({ count: z.number().int() }), output: z.object({ published: z.number() }) }),
    /** `count` ticks (40 without one: the §15 example's 32 + 16 credit sees its end). */
    ticks: stream({ input: z.object({ symbol: z.string(), count: z.number().int().optional() }), output: z.object({ symbol: z.string(), price: z.number() }) }),
  },
})

/** What a market.ticks generator did, per symbol. */
export interface TickRun {
  produced: number
  finished: boolean
  aborted: boolean
}

/** What a reports.build handler saw, per year: the reason its signal aborted with. */
export interface BuildRun {
  abortReason: unknown
}

/** A held.wait gate: the calls waiting at it, and the held.open that releases them. */
interface Gate {
  waiting: (() => void)[]
  count: number
  opener?: () => void
}

export interface InteropServer {
  url: string
  server: PatchbayServer<RestartableEngine>
  ticks: Map<string, TickRun>
  builds: Map<number, BuildRun>
  close: () => Promise<void>
}

const DEFAULT_TICKS = 40

export async function startInteropServer(): Promise<InteropServer> {
  const ticks = new Map<string, TickRun>()
  const builds = new Map<number, BuildRun>()
  const abortWaiters = new Map<number, (() => void)[]>()
  const gates = new Map<string, Gate>()
  let orders = 0

  const gate = (name: string): Gate => {
    let found = gates.get(name)
    if (found === undefined) gates.set(name, (found = { waiting: [], count: Infinity }))
    return found
  }
  const release = (name: string): void => {
    const found = gate(name)
    if (found.waiting.length < found.count) return
    for (const go of found.waiting.splice(0)) go()
    found.opener?.()
  }

  // The memory engine, with a channel restart on cue (chat.restart).
  const engine = new RestartableEngine()
  const server: PatchbayServer<RestartableEngine> = createServer(api, {
    engine,
    // History for §12.1's replay; 5 so the gap flow can outrun it.
    // A 1-byte mark on market.feed: in a burst, every message after the first finds the
    // connection above it (the first is still buffered), so the drop policy and lag show.
    topics: { chat: { room: { history: 5 } }, market: { feed: { highWaterMark: 1 } } },
    handlers: {
      health: () => 'ok' as const,
      math: { add: ({ input }) => input.a + input.b },
      orders: {
        place: ({ input }) => {
          if (input.sku === 'gone') throw new PatchbayError('OUT_OF_STOCK', `no ${input.sku} left`, { data: { sku: input.sku, left: 0 } })
          return { order: ++orders, sku: input.sku }
        },
      },
      reports: {
        build: ({ input, signal }) =>
          new Promise((resolve) => {
            signal.addEventListener('abort', () => {
              builds.set(input.year, { abortReason: signal.reason })
              // The handler still returns a value after its abort: §5 says none of it is sent.
              resolve({ url: `/reports/${input.year}` })
              for (const wake of abortWaiters.get(input.year)?.splice(0) ?? []) wake()
            })
          }),
        aborted: async ({ input }) => {
          if (!builds.has(input.year)) await new Promise<void>((resolve) => abortWaiters.set(input.year, [...(abortWaiters.get(input.year) ?? []), resolve]))
          const reason = builds.get(input.year)?.abortReason
          return { code: reason instanceof PatchbayError ? reason.code : String(reason) }
        },
      },
      held: {
        wait: ({ input }) =>
          new Promise((resolve) => {
            gate(input.gate).waiting.push(() => resolve({ n: input.n }))
            release(input.gate)
          }),
        open: ({ input }) =>
          new Promise((resolve) => {
            const found = gate(input.gate)
            found.count = input.count
            found.opener = () => resolve({ released: input.count })
            release(input.gate)
          }),
      },
      chat: {
        restart: ({ input }) => ({ epoch: engine.restart(channelOf('chat.room', { room: input.room })) }),
        say: ({ input }) => ({ delivered: input.texts.map((text) => server.publish(api.chat.room, { room: input.room }, { text })) }),
      },
      market: {
        burst: ({ input }) => {
          for (let n = 1; n <= input.count; n++) server.publish(api.market.feed, undefined, { n })
          return { published: input.count }
        },
        async *ticks({ input, signal }) {
          const run: TickRun = { produced: 0, finished: false, aborted: false }
          ticks.set(input.symbol, run)
          signal.addEventListener('abort', () => (run.aborted = true))
          try {
            for (let n = 1; n <= (input.count ?? DEFAULT_TICKS); n++) {
              run.produced = n
              yield { symbol: input.symbol, price: 100 + n / 2 }
            }
          } finally {
            run.finished = true
          }
        },
      },
    },
  })
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
  return { url: `ws://127.0.0.1:${port}`, server, ticks, builds, close: () => server.close() }
}

const PYTHON_DIR = fileURLToPath(new URL('./python/', import.meta.url))
const DOC = fileURLToPath(new URL('../../docs/protocol.md', import.meta.url))

/**
 * The interpreter: $PATCHBAY_PYTHON, else Debian's /usr/bin/python3, else python3 on PATH,
 * whichever imports both modules (a pyenv python3 on PATH usually lacks Debian's packages).
 */
export function findPython(): string {
  const candidates = [process.env.PATCHBAY_PYTHON, '/usr/bin/python3', 'python3'].filter((candidate): candidate is string => candidate !== undefined && candidate !== '')
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['-c', 'import websockets, msgpack'], { timeout: 10_000, stdio: 'ignore' })
    if (probe.status === 0) return candidate
  }
  throw new Error(
    `No Python with websockets and msgpack among ${candidates.join(', ')}: install Debian's python3-websockets python3-msgpack ` +
      '(apt-get install python3-websockets python3-msgpack, as .ci/run does), or set PATCHBAY_PYTHON to an interpreter that has them',
  )
}

export type FlowGroup = 'main' | 'integers'

/** One flow's observations as the peer printed them, or why it failed. */
export type FlowReport = Record<string, unknown> & { failed?: string; trace?: string }

/** Runs the Python peer's flows against `url`; resolves with its report, keyed by flow. */
export function runPeer(python: string, url: string, encoding: Encoding, group: FlowGroup, timeoutMs = 20_000): Promise<Record<string, FlowReport>> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['-B', `${PYTHON_DIR}scenario.py`, '--url', url, '--encoding', encoding, '--group', group, '--doc', DOC], {
      cwd: PYTHON_DIR,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      if (code !== 0) return reject(new Error(`the Python peer exited with ${code ?? signal}:\n${stderr}\n${stdout}`))
      try {
        resolve(JSON.parse(stdout) as Record<string, FlowReport>)
      } catch {
        reject(new Error(`the Python peer printed no report:\n${stderr}\n${stdout}`))
      }
    })
  })
}
