/**
 * Server heartbeats (docs/protocol.md §7): WebSocket ping frames; a peer that misses a pong
 * is terminated and everything it held is freed. A peer that answers stays.
 */
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { procedure, router, topic } from '@patchbay/core'
import { createServer, type PatchbayServer } from '@patchbay/server'
import { connectRaw, type RawClient } from '../conformance/support.js'

const api = router({
  room: topic({ params: z.object({ room: z.string() }), message: z.string() }),
  wait: procedure({ output: z.null() }),
})

const HEARTBEAT_MS = 150

let server: PatchbayServer
const sockets: RawClient[] = []
afterEach(async () => {
  for (const client of sockets.splice(0)) client.ws.terminate()
  await server?.close()
})

async function start(aborted: (reason: unknown) => void): Promise<string> {
  server = createServer(api, {
    // Short, so the frozen peer goes within a test's time; long enough that the healthy
    // peer's pong is not late when the suite's other workers load both cores.
    heartbeatInterval: HEARTBEAT_MS,
    handlers: {
      wait: ({ signal }) =>
        new Promise<null>(() => {
          signal.addEventListener('abort', () => aborted(signal.reason))
        }),
    },
  })
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
  return `ws://127.0.0.1:${port}`
}

async function open(url: string, autoPong: boolean): Promise<RawClient> {
  const client = await connectRaw(url, 'json', { autoPong })
  sockets.push(client)
  return client
}

describe('§7 heartbeats', () => {
  it('terminates a peer that stops answering pings, freeing its subscriptions and aborting its handlers', async () => {
    let onAbort!: (reason: unknown) => void
    const abortReason = new Promise<unknown>((resolve) => (onAbort = resolve))
    const url = await start((reason) => onAbort(reason))
    const healthy = await open(url, true)
    const frozen = await open(url, false)
    frozen.send({ t: 'sub', id: 1, path: 'room', params: { room: 'r' } })
    await frozen.next()
    frozen.send({ t: 'call', id: 2, path: 'wait' })
    // No close frame comes from a terminated socket: the client sees an abnormal closure.
    expect((await frozen.closed).code).toBe(1006)
    expect(await abortReason).toMatchObject({ code: 'CONNECTION_LOST' })
    expect(server.topicStats.subscriptions).toBe(0)
    expect(server.stats.heartbeatTimeouts).toBe(1)
    // The peer that answers pongs lives through three more intervals. Should it be dropped
    // instead, the test fails on that at once rather than waiting for pings that never come.
    let pings = 0
    const outcome = await new Promise<string>((resolve) => {
      healthy.ws.on('ping', () => {
        if (++pings === 3) resolve('pinged')
      })
      healthy.ws.once('close', (code) => resolve(`closed ${code}`))
    })
    expect(outcome).toBe('pinged')
    expect(healthy.ws.readyState).toBe(WebSocket.OPEN)
    expect(server.connectionCount).toBe(1)
  })
})
