/**
 * A graceful restart loses nothing: server process A gets SIGTERM while calls are in flight,
 * finishes them, closes its clients with 1001 and exits; B starts on the same port and the
 * client carries on with it. Everything on 127.0.0.1; every spawned process is killed after
 * each test, pass or fail.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { cleanUp, makeClient, recordStates, settled, spawnFixture, within } from './support.js'

afterEach(cleanUp)

describe('server process restarted with SIGTERM', () => {
  it('answers every call in flight before closing with 1001, and the client moves on to the new process', async () => {
    const a = spawnFixture('server', { NAME: 'A', HANDLER_MS: 300 })
    const port = await a.port()
    const client = makeClient(`ws://127.0.0.1:${port}`)
    const states = recordStates(client)
    await expect(within(client.info(), 5_000, 'info from A')).resolves.toMatchObject({ server: 'A', pid: a.pid })

    // One timeline of results and state changes, to see which came first.
    const timeline: string[] = []
    client.on('state', (event) => timeline.push(`state:${event.state}${event.code === undefined ? '' : `:${event.code}`}`))
    const count = 5
    // Not idempotent: a call that did not finish before the close would fail CONNECTION_LOST.
    const calls = Array.from({ length: count }, (_value, i) =>
      settled(
        client.orders.charge({ orderId: `graceful-${i}` }).then((receipt) => {
          timeline.push(`result:${receipt.orderId}`)
          return receipt
        }),
      ),
    )
    await a.waitForCount((event) => event.event === 'started', count, 'every call started on A')
    a.kill('SIGTERM')

    const outcomes = await within(Promise.all(calls), 10_000, 'the calls in flight')
    expect(outcomes).toEqual(Array.from({ length: count }, (_value, i) => ({ ok: true, value: { orderId: `graceful-${i}`, server: 'A', pid: a.pid } })))
    expect(await within(a.exited, 10_000, 'A to exit')).toEqual({ code: 0, signal: null })
    expect(a.all((event) => event.event === 'closed')).toHaveLength(1)

    // Every result arrived before the connection closed, and it closed with 1001 (going away).
    // A has exited, but the client may read the close a moment later on a loaded machine.
    await expect.poll(() => timeline.some((entry) => entry.startsWith('state:reconnecting')), { timeout: 5_000 }).toBe(true)
    const closedAt = timeline.findIndex((entry) => entry.startsWith('state:reconnecting'))
    expect(timeline[closedAt]).toBe('state:reconnecting:1001')
    expect(timeline.slice(0, closedAt).filter((entry) => entry.startsWith('result:'))).toHaveLength(count)

    const b = spawnFixture('server', { NAME: 'B', PORT: port, HANDLER_MS: 300 })
    expect(await b.port()).toBe(port)
    await expect.poll(() => client.state, { timeout: 10_000 }).toBe('open')
    await expect(within(client.orders.charge({ orderId: 'after-restart' }), 5_000, 'a call to B')).resolves.toEqual({
      orderId: 'after-restart',
      server: 'B',
      pid: b.pid,
    })
    const after = states.slice(states.findIndex((event) => event.state === 'reconnecting'))
    expect(after[0]).toMatchObject({ state: 'reconnecting', code: 1001 })
    expect(after.at(-1)?.state).toBe('open')
    expect(after.filter((event) => event.state === 'open')).toHaveLength(1)
    expect(client.stats.retried).toBe(0)
  })
})
