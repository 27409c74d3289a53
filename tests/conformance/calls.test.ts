/**
 * §4 call and result, §4.1 request ids, §5 cancel: raw frames against a real server whose
 * `held.echo` handlers answer only when the test releases them.
 */
import { describe, expect, it } from 'vitest'
import type { Encoding } from '@patchbay/core'
import { ENCODINGS, encode, useHarness } from './support.js'

describe.each<Encoding>(ENCODINGS)('§4 call and result (%s)', (encoding) => {
  const h = useHarness(encoding)

  it('answers a call with a result carrying the same id', async () => {
    const client = await h.open()
    expect(await client.call(9, 'math.add', { a: 2, b: 3 })).toEqual({ t: 'result', id: 9, output: 5 })
    expect(await client.call(10, 'health')).toEqual({ t: 'result', id: 10, output: 'ok' })
  })

  it('answers calls to a held handler when it settles, in settle order', async () => {
    const client = await h.open()
    client.send({ t: 'call', id: 1, path: 'held.echo', input: { n: 1 } })
    client.send({ t: 'call', id: 2, path: 'held.echo', input: { n: 2 } })
    await h.main.heldArrived(2)
    h.main.release(2)
    expect(await client.next()).toEqual({ t: 'result', id: 2, output: { n: 2 } })
    h.main.release(1)
    expect(await client.next()).toEqual({ t: 'result', id: 1, output: { n: 1 } })
  })

  it('answers 1,000 calls sent in one burst, released out of order, each with its own result', async () => {
    const client = await h.open()
    const count = 1000
    const idOf = (n: number): number => 50_000 + n * 3
    // One burst: every frame is queued before any answer can arrive.
    for (let n = 0; n < count; n++) client.send({ t: 'call', id: idOf(n), path: 'held.echo', input: { n } })
    await h.main.heldArrived(count)
    const order = Array.from({ length: count }, (_, i) => (i * 7919) % count)
    expect(new Set(order).size).toBe(count)
    for (const n of order) h.main.release(n)
    const frames = await client.take(count)
    const seen = new Set<number>()
    for (const frame of frames) {
      expect(frame.t).toBe('result')
      const { n } = frame.output as { n: number }
      expect(frame.id).toBe(idOf(n))
      seen.add(n)
    }
    expect(seen.size).toBe(count)
    // Answered in release order, not request order.
    expect(frames.slice(0, 5).map((frame) => (frame.output as { n: number }).n)).toEqual(order.slice(0, 5))
  })
})

describe.each<Encoding>(ENCODINGS)('§4.1 request ids (%s)', (encoding) => {
  const h = useHarness(encoding)

  it.each([0, 1, 2 ** 32, Number.MAX_SAFE_INTEGER])('echoes id %d exactly', async (id) => {
    const client = await h.open()
    const answer = await client.call(id, 'math.add', { a: 1, b: 1 })
    expect(answer).toEqual({ t: 'result', id, output: 2 })
    expect(typeof answer.id).toBe('number')
  })

  it.each<[string, unknown]>([
    ['a string', '1'],
    ['negative', -1],
    ['fractional', 1.5],
    ['unsafe (2**60)', 2 ** 60],
    ['2**53', 2 ** 53],
    ['null', null],
    ['a boolean', true],
  ])('closes 4400 on an id that is %s', async (_name, id) => {
    const client = await h.open()
    client.send({ t: 'call', id, path: 'math.add', input: { a: 1, b: 2 } })
    await client.expectClose(4400, /id/)
  })

  it('closes 4400 on a call without an id', async () => {
    const client = await h.open()
    client.send({ t: 'call', path: 'math.add', input: { a: 1, b: 2 } })
    await client.expectClose(4400, /id/)
  })

  it('closes 4400 on NaN and Infinity ids (msgpack floats; JSON cannot carry them)', async () => {
    const client = await h.open()
    if (encoding === 'json') {
      client.sendRaw('[1,1e400,"math.add",null,{"a":1,"b":2}]', false)
    } else {
      client.send({ t: 'call', id: Number.NaN, path: 'math.add', input: { a: 1, b: 2 } })
    }
    await client.expectClose(4400, /id/)
  })

  it('closes 4409 on an id reused while its call is in flight', async () => {
    const client = await h.open()
    client.send({ t: 'call', id: 5, path: 'held.echo', input: { n: 1 } })
    await h.main.heldArrived(1)
    client.send({ t: 'call', id: 5, path: 'math.add', input: { a: 1, b: 2 } })
    await client.expectClose(4409, /5/)
    // The first call's handler saw the connection go.
    await h.main.abortedSignal(1)
  })

  it('closes 4409 even when the duplicate is itself malformed (a rejected call)', async () => {
    const client = await h.open()
    client.send({ t: 'call', id: 6, path: 'held.echo', input: { n: 1 } })
    await h.main.heldArrived(1)
    client.send({ t: 'call', id: 6, path: 'a..b' })
    await client.expectClose(4409)
  })

  it('allows reusing an id once its result arrived', async () => {
    const client = await h.open()
    expect(await client.call(7, 'math.add', { a: 1, b: 2 })).toEqual({ t: 'result', id: 7, output: 3 })
    expect(await client.call(7, 'math.add', { a: 3, b: 4 })).toEqual({ t: 'result', id: 7, output: 7 })
    client.send({ t: 'call', id: 8, path: 'held.echo', input: { n: 8 } })
    await h.main.heldArrived(1)
    h.main.release(8)
    expect(await client.next()).toEqual({ t: 'result', id: 8, output: { n: 8 } })
    expect(await client.call(8, 'math.add', { a: 0, b: 0 })).toEqual({ t: 'result', id: 8, output: 0 })
  })

  it('allows the same id on two connections at once', async () => {
    const first = await h.open()
    const second = await h.open()
    first.send({ t: 'call', id: 1, path: 'held.echo', input: { n: 1 } })
    second.send({ t: 'call', id: 1, path: 'held.echo', input: { n: 2 } })
    await h.main.heldArrived(2)
    h.main.release(2)
    h.main.release(1)
    expect(await second.next()).toEqual({ t: 'result', id: 1, output: { n: 2 } })
    expect(await first.next()).toEqual({ t: 'result', id: 1, output: { n: 1 } })
  })
})

describe.each<Encoding>(ENCODINGS)('§5 cancel (%s)', (encoding) => {
  const h = useHarness(encoding)

  it('aborts the handler signal and sends nothing more for that id', async () => {
    const client = await h.open()
    client.send({ t: 'call', id: 3, path: 'held.echo', input: { n: 3 } })
    await h.main.heldArrived(1)
    client.send({ t: 'cancel', id: 3 })
    await h.main.abortedSignal(3)
    expect(h.main.aborted.get(3)).toMatchObject({ code: 'CANCELLED' })
    // The handler settles after the cancel: its outcome must go nowhere.
    h.main.release(3)
    client.send({ t: 'ping' })
    expect(await client.next()).toEqual({ t: 'pong' })
    expect(client.received).toEqual([{ t: 'pong' }])
  })

  it('frees the id: a new call may reuse it right after the cancel', async () => {
    const client = await h.open()
    client.send({ t: 'call', id: 4, path: 'held.echo', input: { n: 4 } })
    await h.main.heldArrived(1)
    client.send({ t: 'cancel', id: 4 })
    client.send({ t: 'call', id: 4, path: 'held.echo', input: { n: 5 } })
    await h.main.heldArrived(2)
    // Settling the cancelled handler must not answer the new call under the same id.
    h.main.release(4)
    client.send({ t: 'ping' })
    expect(await client.next()).toEqual({ t: 'pong' })
    h.main.release(5)
    expect(await client.next()).toEqual({ t: 'result', id: 4, output: { n: 5 } })
  })

  it('ignores a cancel for an unknown id, and for an id already answered', async () => {
    const client = await h.open()
    client.send({ t: 'cancel', id: 12345 })
    expect(await client.call(1, 'math.add', { a: 1, b: 2 })).toEqual({ t: 'result', id: 1, output: 3 })
    client.send({ t: 'cancel', id: 1 })
    client.send({ t: 'ping' })
    expect(await client.next()).toEqual({ t: 'pong' })
    expect(client.isOpen).toBe(true)
  })

  it.each<[string, unknown]>([
    ['a string', '3'],
    ['negative', -3],
    ['missing', undefined],
  ])('closes 4400 on a cancel whose id is %s', async (_name, id) => {
    const client = await h.open()
    client.sendRaw(encode(encoding, id === undefined ? { t: 'cancel' } : { t: 'cancel', id }), encoding === 'msgpack')
    await client.expectClose(4400, /id/)
  })
})
