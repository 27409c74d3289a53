/**
 * Crashes of real processes: a server SIGKILLed mid-call and restarted on its port, a proxy
 * SIGKILLed between a client and a live server, and a client frozen with SIGSTOP. Everything
 * runs on 127.0.0.1; every spawned process is killed after each test, pass or fail.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { PatchbayError } from '@patchbay/core'
import { createServer, type PatchbayServer, type ServerOptions } from '@patchbay/server'
import type { LagEvent } from '@patchbay/client'
import { api, type Api } from './api.js'
import { cleanUp, makeClient, recordStates, settled, sleep, spawnFixture, within } from './support.js'

const servers: PatchbayServer[] = []
const tempDirs: string[] = []
afterEach(async () => {
  await cleanUp()
  await Promise.all(servers.splice(0).map((server) => within(server.close(), 5_000, 'server.close()').catch(() => {})))
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/**
 * A Patchbay server in this process, counting runs of `orders.place` (each takes 300 ms, or
 * until `release()` once `hold()` was called: a test that must see the connection drop while
 * the call is running holds it, since a loaded machine may take longer than 300 ms for that).
 */
async function serveInProcess(options: Partial<Pick<ServerOptions<Api, undefined>, 'heartbeatInterval'>> = {}) {
  const runs = { started: 0, finished: 0 }
  let gate: Promise<void> | undefined
  let open: (() => void) | undefined
  const hold = (): void => {
    gate = new Promise<void>((resolve) => (open = resolve))
  }
  const release = (): void => open?.()
  const server: PatchbayServer = createServer(api, {
    handlers: {
      orders: {
        place: async ({ input }) => {
          runs.started++
          await (gate ?? sleep(300))
          runs.finished++
          return { orderId: input.orderId, server: 'in-process', pid: process.pid }
        },
        charge: async ({ input }) => {
          await sleep(300)
          return { orderId: input.orderId, server: 'in-process', pid: process.pid }
        },
      },
      info: () => ({
        server: 'in-process',
        pid: process.pid,
        connections: server.stats.connections,
        connectionCount: server.connectionCount,
        subscriptions: server.topicStats.subscriptions,
      }),
      announce: ({ input }) => ({ delivered: server.publish(api.news, undefined, { text: input.text }) }),
    },
    topics: { feed: { history: 100 } },
    closeTimeout: 200,
    ...options,
  })
  servers.push(server)
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
  return { server, runs, hold, release, url: `ws://127.0.0.1:${port}`, port }
}

function codeOf(error: unknown): string | undefined {
  return error instanceof PatchbayError ? error.code : undefined
}

describe('server process SIGKILLed mid-call and restarted on the same port', () => {
  it('clients reconnect with jitter, resubscribe with a lag notice, retry idempotent calls once and fail the others', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-kill-'))
    tempDirs.push(dir)
    const logFile = join(dir, 'orders.log')
    const readLog = (): string[][] => {
      let text = ''
      try {
        text = readFileSync(logFile, 'utf8')
      } catch {
        // Not written yet.
      }
      return text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => line.split(' '))
    }

    // A's handlers take 1 s, so SIGKILL lands well before any completes; B's take 300 ms.
    const a = spawnFixture('server', { NAME: 'A', HANDLER_MS: 1_000, LOG_FILE: logFile })
    const port = await a.port()
    const url = `ws://127.0.0.1:${port}`
    const count = 6
    const clients = Array.from({ length: count }, () => makeClient(url))
    const states = clients.map(recordStates)
    await Promise.all(clients.map((client) => within(client.connect(), 5_000, 'the first connection')))

    const heard: { text: string; seq: number }[][] = clients.map(() => [])
    const lags: LagEvent[][] = clients.map(() => [])
    const subscriptions = clients.map((client, i) =>
      client.news.subscribe((message, { seq }) => heard[i]?.push({ text: message.text, seq }), { onLag: (lag) => lags[i]?.push(lag) }),
    )
    await within(Promise.all(subscriptions.map((subscription) => subscription.ready)), 5_000, 'subscriptions on A')
    // One message from A gives every subscriber a place (seq 1) in A's sequence.
    await expect(clients[0]?.announce({ text: 'from A' })).resolves.toEqual({ delivered: count })
    await expect.poll(() => heard.map((messages) => messages.length), { timeout: 5_000 }).toEqual(clients.map(() => 1))

    const placed = clients.map((client, i) => settled(client.orders.place({ orderId: `order-${i}` })))
    const charged = clients.map((client, i) => settled(client.orders.charge({ orderId: `charge-${i}` })))
    await a.waitForCount((event) => event.event === 'started', 2 * count, 'every order started on A')

    const killedAt = performance.now()
    await a.killHard()
    expect(a.exit).toEqual({ code: null, signal: 'SIGKILL' })
    expect(readLog(), 'A died before any handler completed').toEqual([])

    // Not idempotent: they fail as soon as the connection drops, without waiting for a server.
    for (const outcome of await within(Promise.all(charged), 5_000, 'the non-idempotent calls to fail')) {
      expect(outcome.ok).toBe(false)
      if (!outcome.ok) expect(codeOf(outcome.error)).toBe('CONNECTION_LOST')
    }

    const b = spawnFixture('server', { NAME: 'B', PORT: port, HANDLER_MS: 300, LOG_FILE: logFile })
    expect(await b.port()).toBe(port)

    // Idempotent: re-sent with their keys on the new connection and answered by B.
    const receipts = await within(Promise.all(placed), 10_000, 'the idempotent calls to resolve')
    expect(receipts).toEqual(clients.map((_client, i) => ({ ok: true, value: { orderId: `order-${i}`, server: 'B', pid: b.pid } })))
    expect(clients.map((client) => client.stats.retried)).toEqual(clients.map(() => 1))

    // Each order ran once, on B, and completed once; the charges never ran to completion.
    const log = readLog()
    expect(log.filter(([path]) => path === 'orders.charge')).toEqual([])
    const placedIds = log.filter(([path]) => path === 'orders.place').map(([, orderId]) => orderId)
    expect([...placedIds].sort()).toEqual(clients.map((_client, i) => `order-${i}`).sort())
    expect(log.every(([, , server, pid]) => server === 'B' && pid === String(b.pid))).toBe(true)
    expect(b.all((event) => event.event === 'started').map((event) => event.orderId)).toHaveLength(count)

    // Reconnection: each client went reconnecting, then tried on a backoff, then opened again.
    const reopenedAt: number[] = []
    const firstDelays: number[] = []
    for (const log of states) {
      const after = log.filter((event) => event.at >= killedAt)
      const dropped = after.findIndex((event) => event.state === 'reconnecting')
      expect(dropped, 'reconnecting after the kill').toBeGreaterThanOrEqual(0)
      expect(after[dropped]?.code).toBe(1006)
      const opened = after.findIndex((event, index) => index > dropped && event.state === 'open')
      expect(opened, 'open again after reconnecting').toBeGreaterThan(dropped)
      const droppedAt = (after[dropped] as { at: number }).at
      const openAt = (after[opened] as { at: number }).at
      reopenedAt.push(openAt)
      const attempts = after.slice(dropped, opened).filter((event) => event.state === 'connecting').map((event) => event.at)
      expect(attempts.length).toBeGreaterThanOrEqual(1)
      firstDelays.push((attempts[0] as number) - droppedAt)
      // No tight loop: every attempt waits at least the backoff floor (50 ms) after the last
      // one, so the count is bounded by the length of the outage.
      let previous = droppedAt
      for (const at of attempts) {
        expect(at - previous, 'the wait before an attempt').toBeGreaterThanOrEqual(45)
        previous = at
      }
      // (No absolute cap: the outage lasts as long as B takes to start, longer on a loaded machine.)
      expect(attempts.length).toBeLessThanOrEqual(Math.ceil((openAt - killedAt) / 45) + 1)
    }
    // Full jitter: the clients lost the same server at the same moment but did not retry in step.
    expect(Math.max(...firstDelays) - Math.min(...firstDelays), `first retry delays ${firstDelays.join(', ')}`).toBeGreaterThan(1)
    expect(new Set(reopenedAt.map((at) => Math.round(at))).size).toBeGreaterThan(1)

    // Every subscriber was told of the restart: a new sequence, missed unknown (undefined).
    await expect.poll(() => lags.map((lag) => lag.length), { timeout: 5_000 }).toEqual(clients.map(() => 1))
    for (const lag of lags) expect(lag[0]).toStrictEqual({ missed: undefined, seq: 0 })
    // B saw one connection per client (no client hammered it) and holds every subscription again.
    await expect(clients[0]?.info()).resolves.toEqual({ server: 'B', pid: b.pid, connections: count, connectionCount: count, subscriptions: count })
    await expect(clients[1]?.announce({ text: 'from B' })).resolves.toEqual({ delivered: count })
    await expect.poll(() => heard.map((messages) => messages.length), { timeout: 5_000 }).toEqual(clients.map(() => 2))
    for (const messages of heard) expect(messages).toEqual([{ text: 'from A', seq: 1 }, { text: 'from B', seq: 1 }])
  })
})

describe('proxy process SIGKILLed between a client and a live server', () => {
  /** A proxy to `targetPort` (on `port` when restarting one), and its port. */
  async function proxyTo(targetPort: number, port = 0) {
    const proxy = spawnFixture('proxy', { TARGET_PORT: targetPort, PORT: port })
    const listening = await proxy.port()
    if (port !== 0) expect(listening).toBe(port)
    return { proxy, port: listening }
  }

  it('an idempotent call in flight is retried with its key and runs once on the server', async () => {
    const { server, runs, hold, release, port } = await serveInProcess()
    hold()
    const first = await proxyTo(port)
    const client = makeClient(`ws://127.0.0.1:${first.port}`)
    const states = recordStates(client)
    await within(client.connect(), 5_000, 'connect through the proxy')

    const call = settled(client.orders.place({ orderId: 'through-proxy' }))
    await expect.poll(() => runs.started, { timeout: 5_000 }).toBe(1)
    await first.proxy.killHard()
    await expect.poll(() => states.some((event) => event.state === 'reconnecting'), { timeout: 5_000 }).toBe(true)
    expect(runs.finished, 'the connection dropped mid-call').toBe(0)
    release()

    const second = await proxyTo(port, first.port)
    await expect(within(call, 10_000, 'the retried call')).resolves.toEqual({
      ok: true,
      value: { orderId: 'through-proxy', server: 'in-process', pid: process.pid },
    })
    expect(runs).toEqual({ started: 1, finished: 1 })
    expect(server.stats.deduplicated, 'the retry was answered from the dedupe window').toBe(1)
    expect(client.stats.retried).toBe(1)
    expect(server.stats.connections).toBe(2)
    expect(second.proxy.all((event) => event.event === 'connection')).toHaveLength(1)
  })

  it('a topic with history replays what was published while the connection was down', async () => {
    const { server, port } = await serveInProcess()
    const first = await proxyTo(port)
    const client = makeClient(`ws://127.0.0.1:${first.port}`)
    const received: { text: string; seq: number }[] = []
    const lags: LagEvent[] = []
    const subscription = client.feed.subscribe((message, { seq }) => received.push({ text: message.text, seq }), { onLag: (lag) => lags.push(lag) })
    await within(subscription.ready, 5_000, 'the subscription')
    const publish = (n: number): number => server.publish(api.feed, undefined, { text: `m${n}` })
    for (let n = 1; n <= 3; n++) expect(publish(n)).toBe(1)
    await expect.poll(() => received.length, { timeout: 5_000 }).toBe(3)

    await first.proxy.killHard()
    // The server noticed; the channel is kept for its history.
    await expect.poll(() => server.topicStats.subscriptions, { timeout: 5_000 }).toBe(0)
    expect(server.topicStats.channels).toBe(1)
    for (let n = 4; n <= 8; n++) expect(publish(n)).toBe(0)

    await proxyTo(port, first.port)
    await expect.poll(() => received.length, { timeout: 10_000 }).toBe(8)
    expect(publish(9)).toBe(1)
    await expect.poll(() => received.length, { timeout: 5_000 }).toBe(9)
    expect(received).toEqual(Array.from({ length: 9 }, (_value, i) => ({ text: `m${i + 1}`, seq: i + 1 })))
    expect(lags).toEqual([])
    expect(server.topicStats.resumed).toBe(1)
  })

  it('a topic without history tells the returning subscriber exactly how many it missed', async () => {
    const { server, url, port } = await serveInProcess()
    // A second subscriber, connected directly, keeps the channel (and its sequence) alive.
    const anchor = makeClient(url)
    const anchorHeard: number[] = []
    await within(anchor.news.subscribe((_message, { seq }) => anchorHeard.push(seq)).ready, 5_000, 'the anchor subscription')

    const first = await proxyTo(port)
    const client = makeClient(`ws://127.0.0.1:${first.port}`)
    const received: { text: string; seq: number }[] = []
    const lags: LagEvent[] = []
    const subscription = client.news.subscribe((message, { seq }) => received.push({ text: message.text, seq }), { onLag: (lag) => lags.push(lag) })
    await within(subscription.ready, 5_000, 'the subscription')
    const publish = (n: number): number => server.publish(api.news, undefined, { text: `m${n}` })
    for (let n = 1; n <= 2; n++) expect(publish(n)).toBe(2)
    await expect.poll(() => received.length, { timeout: 5_000 }).toBe(2)

    await first.proxy.killHard()
    await expect.poll(() => server.topicStats.subscriptions, { timeout: 5_000 }).toBe(1)
    for (let n = 3; n <= 7; n++) expect(publish(n)).toBe(1)

    await proxyTo(port, first.port)
    await expect.poll(() => lags.length, { timeout: 10_000 }).toBe(1)
    expect(lags[0]).toStrictEqual({ missed: 5, seq: 7 })
    expect(publish(8)).toBe(2)
    await expect.poll(() => received.length, { timeout: 5_000 }).toBe(3)
    expect(received).toEqual([
      { text: 'm1', seq: 1 },
      { text: 'm2', seq: 2 },
      { text: 'm8', seq: 8 },
    ])
    await expect.poll(() => anchorHeard, { timeout: 5_000 }).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
  })

  // A channel outlives its last subscriber for retainMs (its seq and epoch), so even without
  // history its only subscriber, back on the same process, learns exactly how many it missed.
  it('the only subscriber of a topic without history, back on the same server, is told exactly how many it missed', async () => {
    const { server, port } = await serveInProcess()
    const first = await proxyTo(port)
    const client = makeClient(`ws://127.0.0.1:${first.port}`)
    const received: number[] = []
    const lags: LagEvent[] = []
    const subscription = client.news.subscribe((_message, { seq }) => received.push(seq), { onLag: (lag) => lags.push(lag) })
    await within(subscription.ready, 5_000, 'the subscription')
    const publish = (n: number): number => server.publish(api.news, undefined, { text: `m${n}` })
    for (let n = 1; n <= 2; n++) publish(n)
    await expect.poll(() => received.length, { timeout: 5_000 }).toBe(2)

    await first.proxy.killHard()
    await expect.poll(() => server.topicStats.subscriptions, { timeout: 5_000 }).toBe(0)
    for (let n = 3; n <= 5; n++) publish(n) // three messages this subscriber misses

    await proxyTo(port, first.port)
    await expect.poll(() => lags.length, { timeout: 10_000 }).toBe(1)
    // Observed: { missed: undefined, seq: 0 } (a new channel epoch in the same process).
    expect(lags[0]).toStrictEqual({ missed: 3, seq: 5 })
  })
})

describe('client process frozen with SIGSTOP', () => {
  it('the server heartbeat terminates it and frees its subscription while a live client keeps getting messages', async () => {
    const { server, url } = await serveInProcess({ heartbeatInterval: 200 })
    const frozen = spawnFixture('subscriber', { URL: url })
    await frozen.waitFor((event) => event.event === 'ready', 'the subscriber ready')

    const live = makeClient(url)
    const liveStates = recordStates(live)
    const liveHeard: number[] = []
    const liveLags: LagEvent[] = []
    await within(live.news.subscribe((_message, { seq }) => liveHeard.push(seq), { onLag: (lag) => liveLags.push(lag) }).ready, 5_000, 'the live subscription')
    expect(server.connectionCount).toBe(2)
    expect(server.topicStats.subscriptions).toBe(2)

    let published = 0
    const publish = (): number => server.publish(api.news, undefined, { text: `m${++published}` })
    expect(publish()).toBe(2)
    await frozen.waitFor((event) => event.event === 'message' && event.seq === 1, 'the first message in the subscriber process')

    const timeoutsBefore = server.stats.heartbeatTimeouts
    frozen.kill('SIGSTOP')
    const ticker = setInterval(publish, 50)
    try {
      await expect.poll(() => server.stats.heartbeatTimeouts, { timeout: 5_000 }).toBeGreaterThan(timeoutsBefore)
      await expect.poll(() => server.topicStats.subscriptions, { timeout: 5_000 }).toBe(1)
      await expect.poll(() => server.connectionCount, { timeout: 5_000 }).toBe(1)
      // The live client keeps getting messages after the frozen one is gone.
      const mark = published
      await expect.poll(() => liveHeard.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(mark + 3)
    } finally {
      clearInterval(ticker)
    }
    expect(server.stats.heartbeatTimeouts).toBe(timeoutsBefore + 1)
    expect(publish()).toBe(1)
    await expect.poll(() => liveHeard.length, { timeout: 5_000 }).toBe(published)
    expect(liveHeard).toEqual(Array.from({ length: published }, (_value, i) => i + 1))
    expect(liveLags).toEqual([])
    expect(liveStates.map((event) => event.state)).toEqual(['open'])
    // The frozen process never ran again; a stopped process dies of SIGKILL all the same.
    expect(frozen.exit).toBeUndefined()
    await frozen.killHard()
    expect(frozen.exit).toEqual({ code: null, signal: 'SIGKILL' })
  })
})
