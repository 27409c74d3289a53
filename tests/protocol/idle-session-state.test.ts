/**
 * A session keeps its calls in flight and its subscriptions in tables of its own, made on
 * first use (an idle connection costs no empty tables). A connection that idled after a
 * synchronous call still behaves in every way once it starts using them, and its ids stay its
 * own: docs/protocol.md §4.1 (ids live per connection, a live id reused closes 4409), §5
 * (cancel), §12 (sub, unsub, event).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { CloseCode } from '@patchbay/core'
import { connectRaw, TestServer, type RawClient } from '../conformance/support.js'

let server: TestServer
const clients: RawClient[] = []
afterEach(async () => {
  for (const client of clients.splice(0)) client.ws.terminate()
  await server?.close()
})

/** A connection that made one synchronous call and now idles. */
async function idled(): Promise<RawClient> {
  const client = await connectRaw(server.url, 'json')
  clients.push(client)
  expect(await client.call(1, 'math.add', { a: 1, b: 2 })).toEqual({ t: 'result', id: 1, output: 3 })
  return client
}

describe('§4.1 a session’s tables, made on first use', () => {
  it('calls in flight: each connection’s ids are its own, a live one reused closes 4409', async () => {
    server = await new TestServer().start({})
    const a = await idled()
    const b = await idled()
    // The same id on both connections, each a call still running: no duplicate on B.
    a.send({ t: 'call', id: 5, path: 'held.echo', input: { n: 1 } })
    b.send({ t: 'call', id: 5, path: 'held.echo', input: { n: 2 } })
    await server.heldArrived(2)
    // B's call is answered; A's id 5 is still live, so reusing it closes A only.
    server.release(2)
    expect(await b.next()).toEqual({ t: 'result', id: 5, output: { n: 2 } })
    a.send({ t: 'call', id: 5, path: 'math.add', input: { a: 1, b: 1 } })
    await a.expectClose(CloseCode.DUPLICATE_ID)
    // Once answered, B's id is free again (§4.1), and B is unaffected by A.
    expect(await b.call(5, 'math.add', { a: 2, b: 2 })).toEqual({ t: 'result', id: 5, output: 4 })
  })

  it('§5 a cancelled call of a connection that idled is aborted and never answered', async () => {
    server = await new TestServer().start({})
    const a = await idled()
    a.send({ t: 'call', id: 2, path: 'held.echo', input: { n: 7 } })
    await server.heldArrived(1)
    a.send({ t: 'cancel', id: 2 })
    await server.abortedSignal(7)
    expect(server.aborted.get(7)).toMatchObject({ code: 'CANCELLED' })
    // The id is free, and the next call's answer is the next frame: nothing came for id 2.
    expect(await a.call(2, 'math.add', { a: 3, b: 4 })).toEqual({ t: 'result', id: 2, output: 7 })
  })

  it('a graceful shutdown waits for the call in flight on a connection that idled first', async () => {
    server = await new TestServer().start({})
    const a = await idled()
    a.send({ t: 'call', id: 3, path: 'held.echo', input: { n: 3 } })
    await server.heldArrived(1)
    const closing = server.server.close()
    server.release(3)
    expect(await a.next()).toEqual({ t: 'result', id: 3, output: { n: 3 } })
    expect((await a.closed).code).toBe(CloseCode.GOING_AWAY)
    await closing
  })

  it('§12 subscriptions: each connection’s own, events reach who holds one, ids reusable after unsub', async () => {
    server = await new TestServer().start({})
    const a = await idled()
    const b = await idled()
    a.send({ t: 'sub', id: 7, path: 'chat' })
    b.send({ t: 'sub', id: 7, path: 'chat' })
    expect(await a.next()).toMatchObject({ t: 'result', id: 7 })
    expect(await b.next()).toMatchObject({ t: 'result', id: 7 })
    b.send({ t: 'pub', id: 8, path: 'chat', data: { n: 1 } })
    expect(await a.next()).toMatchObject({ t: 'event', data: { n: 1 } })
    expect((await b.take(2)).map((frame) => frame.t).sort()).toEqual(['event', 'result'])
    // A leaves: the next event goes to B only, and A may take id 7 again.
    a.send({ t: 'unsub', id: 7 })
    b.send({ t: 'pub', id: 9, path: 'chat', data: { n: 2 } })
    expect((await b.take(2)).map((frame) => frame.t).sort()).toEqual(['event', 'result'])
    a.send({ t: 'sub', id: 7, path: 'chat' })
    expect(await a.next()).toMatchObject({ t: 'result', id: 7 })
    // Still live on A: reusing it closes A with 4409.
    a.send({ t: 'sub', id: 7, path: 'chat' })
    await a.expectClose(CloseCode.DUPLICATE_ID)
    expect(b.isOpen).toBe(true)
  })
})
