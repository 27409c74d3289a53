/**
 * The client's checks on the newer server messages (docs/protocol.md §14 `lag`, §15 `item`):
 * a malformed one closes the connection with 4400 (the server broke the protocol, §3); a
 * well-formed one for something the client no longer waits on is ignored and counted.
 */
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { CloseCode, PatchbayError, router, stream, topic, type Encoding } from '@patchbay/core'
import { createClient, type Client } from '@patchbay/client'
import { startRawServer, type RawServer } from './raw-server.js'
import { codec } from '../support/codecs.js'

const api = router({
  numbers: stream({ output: z.number() }),
  feed: topic({ message: z.number() }),
})

let server: RawServer | undefined
const clients: Client<typeof api>[] = []
afterEach(async () => {
  await server?.close()
  server = undefined
  await Promise.all(clients.splice(0).map((client) => client.close()))
})

function connect(url: string, encoding: Encoding): Client<typeof api> {
  const client = createClient(api, { url, WebSocket, encodings: [codec(encoding)], reconnect: false })
  clients.push(client)
  return client
}

describe.each<Encoding>(['json', 'msgpack'])('server frames over %s', (encoding) => {
  it.each<[string, Record<string, unknown>]>([
    ['an item without a valid id', { t: 'item', id: 'one', data: 1 }],
    ['a lag without a channel', { t: 'lag', seq: 3, missed: 2 }],
    ['a lag whose channel is a name, not a number', { t: 'lag', ch: 'feed', seq: 3, missed: 2 }],
    ['an event whose channel is a name, not a number', { t: 'event', ch: 'feed', seq: 1, data: 1 }],
    ['an event whose channel is not a positive integer', { t: 'event', ch: 0, seq: 1, data: 1 }],
    ['a lag whose missed is not a positive integer', { t: 'lag', ch: 1, seq: 3, missed: 0 }],
    ['a lag whose seq is fractional', { t: 'lag', ch: 1, seq: 1.5, missed: 1 }],
    ['a lag whose seq is 0 without an epoch', { t: 'lag', ch: 1, seq: 0, missed: 1 }],
    // §14's new-epoch form: a well-formed epoch, a non-negative seq, no count beside it.
    ['a lag with both an epoch and missed', { t: 'lag', ch: 1, seq: 0, epoch: 'e.2', missed: 3 }],
    ['a lag whose epoch is empty', { t: 'lag', ch: 1, seq: 0, epoch: '' }],
    ['a lag whose epoch has a character outside [A-Za-z0-9_.-]', { t: 'lag', ch: 1, seq: 0, epoch: 'e/2' }],
    ['a lag whose epoch is not a string', { t: 'lag', ch: 1, seq: 0, epoch: 2 }],
    ['a lag with an epoch and a negative seq', { t: 'lag', ch: 1, seq: -1, epoch: 'e.2' }],
    ['a lag with an epoch and no channel', { t: 'lag', seq: 0, epoch: 'e.2' }],
  ])('closes with 4400 on %s', async (_name, frame) => {
    server = await startRawServer(encoding)
    const client = connect(server.url, encoding)
    const states: { state: string; code?: number }[] = []
    client.on('state', (event) => states.push(event))
    await client.connect()
    const socket = await server.nextSocket()
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
    server.send(socket, frame)
    expect(await closed).toBe(CloseCode.BAD_REQUEST)
    await expect.poll(() => states.at(-1)?.state).toBe('closed')
  })

  it('closes with 4400 on a server frame of the other kind, however well-formed its content', async () => {
    // docs/protocol.md §2 "Frame kinds": a client never guesses the encoding from the frame kind.
    server = await startRawServer(encoding)
    const client = connect(server.url, encoding)
    await client.connect()
    const socket = await server.nextSocket()
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
    // A JSON pong (valid UTF-8, so no WebSocket library stops it with 1007) in the kind of
    // frame the subprotocol does not use: a client that decoded by frame kind would take it.
    socket.send(Buffer.from('[6]'), { binary: encoding === 'json' })
    expect(await closed).toBe(CloseCode.BAD_REQUEST)
    await expect.poll(() => client.state).toBe('closed')
  })

  it('files a subscription when its result arrives, so events right behind it (a replay) are delivered', async () => {
    // docs/protocol.md §12 "File the subscription before reading the next frame"
    server = await startRawServer(encoding)
    const client = connect(server.url, encoding)
    const seen: number[] = []
    const off = client.feed.subscribe((n) => seen.push(n))
    const socket = await server.nextSocket()
    const sub = await server.nextMessage(socket)
    // The result and the events behind it in one synchronous burst: one socket write.
    server.send(socket, { t: 'result', id: sub.id, output: { ch: 5, seq: 0, epoch: 'e.1' } })
    server.send(socket, { t: 'event', ch: 5, seq: 1, data: 10 })
    server.send(socket, { t: 'event', ch: 5, seq: 2, data: 20 })
    await off.ready
    await expect.poll(() => seen).toEqual([10, 20])
    expect(client.stats.lateReplies).toBe(0)
  })

  it('ignores, and counts, an item or a lag for something it does not listen to', async () => {
    server = await startRawServer(encoding)
    const client = connect(server.url, encoding)
    await client.connect()
    const socket = await server.nextSocket()
    server.send(socket, { t: 'item', id: 99, data: 1 })
    server.send(socket, { t: 'lag', ch: 999, seq: 4, missed: 4 })
    // Still open and working: a stream started now gets its items.
    const numbers = client.numbers(undefined, { credit: 2 })
    const start = await server.nextMessage(socket)
    expect(start).toMatchObject({ t: 'stream', path: 'numbers', credit: 2 })
    server.send(socket, { t: 'item', id: start.id, data: 7 })
    expect((await numbers.next()).value).toBe(7)
    expect(client.state).toBe('open')
    expect(client.stats.lateReplies).toBe(1)
  })

  it.each<[string, unknown]>([
    ['a channel name instead of its number', { ch: 'feed', seq: 0, epoch: 'e.1' }],
    ['no epoch', { ch: 1, seq: 0 }],
    ['a negative seq', { ch: 1, seq: -1, epoch: 'e.1' }],
    ['no output at all', undefined],
  ])('closes with 4400 on a sub result with %s, and the subscription fails', async (_name, output) => {
    server = await startRawServer(encoding)
    const client = connect(server.url, encoding)
    const off = client.feed.subscribe(() => {})
    const socket = await server.nextSocket()
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
    const sub = await server.nextMessage(socket)
    server.send(socket, output === undefined ? { t: 'result', id: sub.id } : { t: 'result', id: sub.id, output })
    expect(await closed).toBe(CloseCode.BAD_REQUEST)
    await expect(off.ready).rejects.toBeInstanceOf(PatchbayError)
    await expect.poll(() => client.state).toBe('closed')
  })

  it('hands a lag to the subscription’s onLag and continues after it', async () => {
    server = await startRawServer(encoding)
    const client = connect(server.url, encoding)
    const seen: number[] = []
    const lags: unknown[] = []
    const off = client.feed.subscribe((n) => seen.push(n), { onLag: (lag) => lags.push(lag) })
    const socket = await server.nextSocket()
    const sub = await server.nextMessage(socket)
    server.send(socket, { t: 'result', id: sub.id, output: { ch: 1, seq: 0, epoch: 'e.1' } })
    await off.ready
    server.send(socket, { t: 'event', ch: 1, seq: 1, data: 10 })
    server.send(socket, { t: 'lag', ch: 1, seq: 5, missed: 4 })
    server.send(socket, { t: 'event', ch: 1, seq: 6, data: 60 })
    // An event the lag already covered is older than where the subscription is: dropped.
    server.send(socket, { t: 'event', ch: 1, seq: 4, data: 40 })
    server.send(socket, { t: 'event', ch: 1, seq: 7, data: 70 })
    await expect.poll(() => seen).toEqual([10, 60, 70])
    expect(lags).toEqual([{ missed: 4, seq: 5 }])
  })

  it('takes a lag naming a new epoch as a gap of unknown size, goes on in that epoch, and resumes in it (§12.1, §14)', async () => {
    server = await startRawServer(encoding)
    const client = createClient(api, { url: server.url, WebSocket, encodings: [codec(encoding)], reconnect: { retryDelay: 10, maxRetryDelay: 20 } })
    clients.push(client)
    const seen: number[] = []
    const lags: unknown[] = []
    const off = client.feed.subscribe((n) => seen.push(n), { onLag: (lag) => lags.push(lag) })
    const socket = await server.nextSocket()
    const sub = await server.nextMessage(socket)
    server.send(socket, { t: 'result', id: sub.id, output: { ch: 1, seq: 0, epoch: 'e.1' } })
    await off.ready
    server.send(socket, { t: 'event', ch: 1, seq: 1, data: 10 })
    server.send(socket, { t: 'event', ch: 1, seq: 2, data: 20 })
    server.send(socket, { t: 'lag', ch: 1, seq: 1, epoch: 'e.2' })
    // Seq 1 is the new epoch's latest: delivery goes on from 2, lower than before the notice.
    server.send(socket, { t: 'event', ch: 1, seq: 1, data: 11 })
    server.send(socket, { t: 'event', ch: 1, seq: 2, data: 21 })
    // A notice naming the epoch it is already in tells it nothing: ignored.
    server.send(socket, { t: 'lag', ch: 1, seq: 2, epoch: 'e.2' })
    server.send(socket, { t: 'event', ch: 1, seq: 3, data: 31 })
    await expect.poll(() => seen).toEqual([10, 20, 21, 31])
    expect(lags).toEqual([{ missed: undefined, seq: 1 }])
    // After a reconnect the resume names the new epoch and the last seq seen in it.
    socket.terminate()
    const again = await server.nextSocket()
    const resubscribe = await server.nextMessage(again)
    expect(resubscribe).toMatchObject({ t: 'sub', path: 'feed', resume: { epoch: 'e.2', seq: 3 } })
  })
})
