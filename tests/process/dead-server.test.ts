/**
 * What the client promises about a server or a route that goes silent (docs/protocol.md §7,
 * docs/guide/lifecycle.md): a server process frozen with SIGSTOP is noticed within
 * `pingInterval + pongTimeout` of its last frame, soon enough that an idempotent call in
 * flight is sent again before its own timeout; and a connection attempt through a route
 * that accepts TCP and never answers the upgrade times out and goes through the backoff
 * like any failed attempt. Real processes and sockets on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { PatchbayError } from '@patchbay/core'
import { cleanUp, makeClient, recordStates, settled, spawnFixture, within } from './support.js'
import { startSwitchProxy, type SwitchProxy } from './switch-proxy.js'

const proxies: SwitchProxy[] = []
afterEach(async () => {
  await cleanUp()
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()))
})

async function proxyTo(port: number | undefined): Promise<SwitchProxy> {
  const proxy = await startSwitchProxy(port)
  proxies.push(proxy)
  return proxy
}

/**
 * Room for a loaded 2-core machine (the suite's other worker, the child processes): timers
 * fire late, never early, so this goes on the upper bounds only.
 */
const MARGIN = 500

describe('a server process frozen with SIGSTOP (§7)', () => {
  const PING = 1_000
  const PONG = 400
  /** More room here: the old code noticed at 2 × PING + PONG (2.4 s), well clear of it. */
  const DETECT_MARGIN = 700

  it('is noticed within pingInterval + pongTimeout of its last frame, and an idempotent call in flight is retried before its timeout', async () => {
    // A never answers orders (5 s handlers); B, behind the same address after the freeze, does.
    const a = spawnFixture('server', { NAME: 'A', HANDLER_MS: 5_000 })
    const b = spawnFixture('server', { NAME: 'B', HANDLER_MS: 50 })
    const [portA, portB] = await Promise.all([a.port(), b.port()])
    const proxy = await proxyTo(portA)
    const client = makeClient(`ws://127.0.0.1:${proxy.port}`, {
      pingInterval: PING,
      pongTimeout: PONG,
      reconnect: { retryDelay: 50, maxRetryDelay: 100 },
    })
    const states = recordStates(client)
    await within(client.connect(), 5_000, 'the connection to A')
    // The last frame A sends: this answer, right after the connection opened. A liveness
    // timer that counts whole intervals from the open (the old one) pings only at 2 × PING.
    // The frame arrives between the call and its promise settling: the lower bound counts from
    // the call (a process preempted before the test resumes would otherwise shorten it), the
    // upper one from the settling.
    const askedAt = performance.now()
    await expect(client.info()).resolves.toMatchObject({ server: 'A' })
    const lastFrameAt = performance.now()
    a.kill('SIGSTOP')
    proxy.route(portB)

    // Detection by the promise takes PING + PONG; a reconnect and B's 50 ms handler follow.
    // Noticed at 2 × PING + PONG instead, the call would time out first.
    const CALL_TIMEOUT = PING + PONG + DETECT_MARGIN + 300
    const placed = settled(client.orders.place({ orderId: 'frozen' }, { timeout: CALL_TIMEOUT }))
    await expect.poll(() => states.some((event) => event.state === 'reconnecting'), { timeout: 2 * PING + PONG + 2_000 }).toBe(true)
    const dropped = states.find((event) => event.state === 'reconnecting')
    expect(dropped).toMatchObject({ code: 1006, reason: 'The server did not answer a ping' })
    const detection = (dropped?.at ?? 0) - lastFrameAt
    const sinceAsked = (dropped?.at ?? 0) - askedAt
    // Not before the promise allows (a ping after PING of silence, then PONG for any frame;
    // 10 ms for the clock's millisecond steps), and not much after.
    expect(sinceAsked, `noticed ${Math.round(sinceAsked)} ms after the last call`).toBeGreaterThanOrEqual(PING + PONG - 10)
    expect(detection, `noticed ${Math.round(detection)} ms after the last frame`).toBeLessThanOrEqual(PING + PONG + DETECT_MARGIN)

    const outcome = await within(placed, CALL_TIMEOUT + 1_000, 'the idempotent call')
    if (!outcome.ok) throw new Error(`the call failed: ${outcome.error instanceof PatchbayError ? outcome.error.code : String(outcome.error)}`)
    expect(outcome.value).toEqual({ orderId: 'frozen', server: 'B', pid: b.pid })
    expect(client.stats.retried).toBe(1)
    expect(states.map((event) => event.state)).toEqual(['open', 'reconnecting', 'connecting', 'open'])
    // A never ran again while the client gave up on it and moved on.
    expect(a.exit).toBeUndefined()
  })
})

describe('a route that accepts TCP and never answers the upgrade', () => {
  const CONNECT = 300

  it('fails each attempt after connectTimeout, backs off, and connects once the route works', async () => {
    const b = spawnFixture('server', { NAME: 'B', HANDLER_MS: 50 })
    const portB = await b.port()
    const proxy = await proxyTo(undefined)
    const client = makeClient(`ws://127.0.0.1:${proxy.port}`, {
      connectTimeout: CONNECT,
      reconnect: { retryDelay: 100, maxRetryDelay: 200 },
    })
    const states = recordStates(client)
    // Made while connecting: it waits in the queue and goes out on the first open socket.
    const info = settled(client.info())

    // Without a connect timeout the first attempt would hold forever and no second one come.
    await expect.poll(() => proxy.held.length, { timeout: 4 * (CONNECT + 200) + MARGIN }).toBeGreaterThanOrEqual(3)
    proxy.route(portB)
    await within(client.connect(), 2 * (CONNECT + 200) + MARGIN, 'the connection once the route works')
    const outcome = await within(info, 5_000, 'the queued call')
    expect(outcome).toEqual({ ok: true, value: expect.objectContaining({ server: 'B', pid: b.pid }) })

    // Every blackholed attempt was given up by the client (its socket closed), none early.
    const failures = states.filter((event) => event.state === 'reconnecting')
    expect(failures.length).toBeGreaterThanOrEqual(3)
    for (const failure of failures) expect(failure).toMatchObject({ code: 1006, reason: 'The connection attempt timed out' })
    for (let i = 0; i < states.length; i++) {
      const attempt = states[i]
      const failure = states[i + 1]
      if (attempt?.state !== 'connecting' || failure?.state !== 'reconnecting') continue
      const lasted = failure.at - attempt.at
      expect(lasted, `an attempt lasted ${Math.round(lasted)} ms`).toBeGreaterThanOrEqual(CONNECT - 2)
      expect(lasted, `an attempt lasted ${Math.round(lasted)} ms`).toBeLessThanOrEqual(CONNECT + MARGIN)
    }
    await expect.poll(() => proxy.held.every((connection) => connection.closedAt !== undefined), { timeout: 2_000 }).toBe(true)
    expect(proxy.forwarded).toBe(1)
    expect(states.at(-1)?.state).toBe('open')
  })
})
