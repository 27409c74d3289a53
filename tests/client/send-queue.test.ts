/**
 * The client's side of backpressure (docs/protocol.md §14): against a real server socket that
 * stops reading, requests wait in a bounded queue once `bufferedAmount` passes the
 * high-water mark, a full queue refuses at once, and everything goes out as the socket
 * drains. Also the client's guard on stream credit (§15).
 */
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { CloseCode, ErrorCode, PatchbayError, procedure, router, stream } from '@patchbay/core'
import { createClient, type Client } from '@patchbay/client'
import { startRawServer, type RawServer } from './raw-server.js'

const api = router({
  put: procedure({ input: z.object({ blob: z.string() }), output: z.number() }),
  numbers: stream({ output: z.number() }),
})

const KiB = 1024
let raw: RawServer | undefined
const clients: Client<typeof api>[] = []
afterEach(async () => {
  // The server side first: a paused server socket would never finish a closing handshake.
  await raw?.close()
  raw = undefined
  await Promise.all(clients.splice(0).map((client) => client.close()))
})

describe('client send queue', () => {
  it('holds requests back while the socket is above its high-water mark and sends them as it drains', async () => {
    raw = await startRawServer('json')
    const client = createClient(api, { url: raw.url, WebSocket, encodings: ['json'], highWaterMark: 64 * KiB, maxQueued: 40, timeout: 0 })
    clients.push(client)
    await client.connect()
    const socket = await raw.nextSocket()
    socket.pause() // the server stops reading: TCP fills, then the client's own buffer

    const blob = 'b'.repeat(100 * KiB)
    const settled: { index: number; ok: boolean; error?: unknown }[] = []
    const calls: Promise<unknown>[] = []
    let peak = 0
    for (let index = 0; index < 400; index++) {
      const call = client.put({ blob })
      calls.push(call)
      call.then(
        () => settled.push({ index, ok: true }),
        (error: unknown) => settled.push({ index, ok: false, error }),
      )
      peak = Math.max(peak, client.bufferedAmount)
      if (index % 10 === 9) {
        await new Promise((resolve) => setTimeout(resolve, 5))
        peak = Math.max(peak, client.bufferedAmount)
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
    // Never more than one request past the mark is buffered in the socket.
    expect(peak).toBeLessThan(64 * KiB + 101 * KiB)
    // A full queue refuses at once, with a clear error, rather than grow.
    const refused = settled.filter((entry) => !entry.ok)
    expect(refused.length).toBeGreaterThan(0)
    for (const entry of refused) {
      expect(entry.error).toBeInstanceOf(PatchbayError)
      expect((entry.error as PatchbayError).code).toBe(ErrorCode.TOO_MANY_REQUESTS)
      expect((entry.error as PatchbayError).message).toMatch(/wait for the socket to drain/)
    }
    let drained = false
    void client.drained().then(() => (drained = true))
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(drained).toBe(false)

    // The server reads again and answers each call with its id: every accepted call arrives.
    socket.resume()
    const accepted = 400 - refused.length
    for (let answered = 0; answered < accepted; answered++) {
      const message = await raw.nextMessage(socket)
      expect(message).toMatchObject({ t: 'call', path: 'put' })
      raw.send(socket, { t: 'result', id: message.id, output: message.id })
    }
    await expect.poll(() => settled.length).toBe(400)
    expect(settled.filter((entry) => entry.ok)).toHaveLength(accepted)
    await expect.poll(() => drained).toBe(true)
    expect(client.bufferedAmount).toBeLessThan(64 * KiB)
  })

  it('a call that times out while waiting in the queue gives its place back', async () => {
    raw = await startRawServer('json')
    const client = createClient(api, { url: raw.url, WebSocket, encodings: ['json'], highWaterMark: 16 * KiB, maxQueued: 5 })
    clients.push(client)
    await client.connect()
    const socket = await raw.nextSocket()
    socket.pause()
    const blob = 'b'.repeat(256 * KiB)
    const fillers: Promise<unknown>[] = []
    // Fill the pipe until requests queue.
    for (let i = 0; i < 200 && client.bufferedAmount < 16 * KiB; i++) {
      fillers.push(client.put({ blob }, { timeout: 0 }).catch(() => 'lost'))
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    expect(client.bufferedAmount).toBeGreaterThanOrEqual(16 * KiB)
    const waiting = Array.from({ length: 5 }, () => client.put({ blob: 'x' }, { timeout: 30 }))
    await expect(client.put({ blob: 'x' })).rejects.toMatchObject({ code: ErrorCode.TOO_MANY_REQUESTS })
    for (const call of waiting) await expect(call).rejects.toMatchObject({ code: ErrorCode.TIMEOUT })
    // Their places are free again.
    const again = client.put({ blob: 'x' }, { timeout: 30 })
    await expect(again).rejects.toMatchObject({ code: ErrorCode.TIMEOUT })
  })
})

describe('client stream credit guard', () => {
  it('closes with 4400 when a server sends more items than it was granted', async () => {
    raw = await startRawServer('json')
    const client = createClient(api, { url: raw.url, WebSocket, encodings: ['json'], reconnect: false })
    clients.push(client)
    const states: { state: string; code?: number }[] = []
    client.on('state', (event) => states.push(event))
    const numbers = client.numbers(undefined, { credit: 2 })
    const socket = await raw.nextSocket()
    const start = await raw.nextMessage(socket)
    expect(start).toMatchObject({ t: 'stream', path: 'numbers', credit: 2 })
    for (const n of [1, 2, 3]) raw.send(socket, { t: 'item', id: start.id, data: n })
    await expect.poll(() => states.at(-1)?.state).toBe('closed')
    expect(states.at(-1)?.code).toBe(CloseCode.BAD_REQUEST)
    expect((await numbers.next()).value).toBe(1)
  })
})
