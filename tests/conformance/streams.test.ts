/**
 * §15 streams and credit: raw frames against a real server whose `count` stream yields
 * 1..to and counts what it produced and when its generator finished.
 */
import { describe, expect, it } from 'vitest'
import type { Encoding } from '@patchbay/core'
import { ENCODINGS, useHarness, type RawClient } from './support.js'

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Asserts that nothing more arrives for a while. */
async function expectSilence(client: RawClient, ms = 100): Promise<void> {
  const before = client.received.length
  await pause(ms)
  expect(client.received.slice(before)).toEqual([])
}

describe.each<Encoding>(ENCODINGS)('§15 streams (%s)', (encoding) => {
  const h = useHarness(encoding)

  it('sends no more items than granted, continues on credit, and ends with a result without output', async () => {
    const client = await h.open()
    client.send({ t: 'stream', id: 1, path: 'count', input: { to: 10 }, credit: 2 })
    expect(await client.take(2)).toEqual([
      { t: 'item', id: 1, data: 1 },
      { t: 'item', id: 1, data: 2 },
    ])
    await expectSilence(client)
    expect(h.main.streams.produced).toBe(2)
    client.send({ t: 'credit', id: 1, n: 3 })
    expect((await client.take(3)).map((frame) => frame.data)).toEqual([3, 4, 5])
    await expectSilence(client)
    client.send({ t: 'credit', id: 1, n: 100 })
    expect((await client.take(5)).map((frame) => frame.data)).toEqual([6, 7, 8, 9, 10])
    expect(await client.next()).toEqual({ t: 'result', id: 1 })
    expect(h.main.streams.finished).toBe(1)
    // The id is free again, and credit for an ended stream is ignored.
    client.send({ t: 'credit', id: 1, n: 5 })
    client.send({ t: 'stream', id: 1, path: 'count', input: { to: 1 }, credit: 1 })
    expect(await client.next()).toEqual({ t: 'item', id: 1, data: 1 })
    // The end is found by pulling once more, which takes credit like an item would.
    await expectSilence(client)
    client.send({ t: 'credit', id: 1, n: 1 })
    expect(await client.next()).toEqual({ t: 'result', id: 1 })
  })

  it('cancel stops the generator (its finally runs) and nothing more is sent for the id', async () => {
    const client = await h.open()
    client.send({ t: 'stream', id: 7, path: 'count', input: {}, credit: 1 })
    expect(await client.next()).toEqual({ t: 'item', id: 7, data: 1 })
    client.send({ t: 'cancel', id: 7 })
    await expect.poll(() => h.main.streams.finished).toBe(1)
    client.send({ t: 'credit', id: 7, n: 10 })
    await expectSilence(client)
  })

  it('answers a stream at an unknown path, or at a procedure, with NOT_FOUND', async () => {
    const client = await h.open()
    client.send({ t: 'stream', id: 1, path: 'nope', credit: 1 })
    expect(await client.next()).toMatchObject({ t: 'error', id: 1, error: { code: 'NOT_FOUND' } })
    client.send({ t: 'stream', id: 2, path: 'math.add', input: { a: 1, b: 2 }, credit: 1 })
    expect(await client.next()).toMatchObject({ t: 'error', id: 2, error: { code: 'NOT_FOUND' } })
    expect(await client.call(3, 'count', { to: 1 })).toMatchObject({ t: 'error', id: 3, error: { code: 'NOT_FOUND' } })
  })

  it('answers invalid input with BAD_REQUEST and its issues, starting nothing', async () => {
    const client = await h.open()
    client.send({ t: 'stream', id: 1, path: 'count', input: { to: 'ten' }, credit: 1 })
    const answer = await client.next()
    expect(answer).toMatchObject({ t: 'error', id: 1, error: { code: 'BAD_REQUEST' } })
    expect((answer.error as { issues: unknown[] }).issues.length).toBeGreaterThan(0)
    expect(h.main.streams.produced).toBe(0)
  })

  it('closes with 4409 when a stream reuses the id of a call in flight, or a call that of a running stream', async () => {
    const first = await h.open()
    first.send({ t: 'call', id: 5, path: 'held.echo', input: { n: 5 } })
    await h.main.heldArrived(1)
    first.send({ t: 'stream', id: 5, path: 'count', input: {}, credit: 1 })
    await first.expectClose(4409)

    const second = await h.open()
    second.send({ t: 'stream', id: 9, path: 'count', input: {}, credit: 1 })
    expect(await second.next()).toEqual({ t: 'item', id: 9, data: 1 })
    second.send({ t: 'call', id: 9, path: 'math.add', input: { a: 1, b: 1 } })
    await second.expectClose(4409)
    await expect.poll(() => h.main.streams.finished).toBe(1)
  })

  it.each([
    ['missing', undefined],
    ['zero', 0],
    ['negative', -1],
    ['fractional', 1.5],
    ['a string', '3'],
  ])('closes with 4400 on a stream whose credit is %s', async (_name, credit) => {
    const client = await h.open()
    client.send({ t: 'stream', id: 1, path: 'count', input: {}, credit })
    await client.expectClose(4400, /credit/)
    expect(h.main.streams.produced).toBe(0)
  })

  it.each([
    ['n missing', { t: 'credit', id: 1 }],
    ['n zero', { t: 'credit', id: 1, n: 0 }],
    ['n not a number', { t: 'credit', id: 1, n: 'many' }],
    ['id invalid', { t: 'credit', id: -1, n: 1 }],
  ])('closes with 4400 on a credit message with %s', async (_name, message) => {
    const client = await h.open()
    client.send(message)
    await client.expectClose(4400, /credit/)
  })

  it('answers a restart whose received count is not a non-negative integer with BAD_REQUEST', async () => {
    const client = await h.open()
    client.send({ t: 'stream', id: 1, path: 'count', input: {}, credit: 1, received: -2 })
    expect(await client.next()).toMatchObject({ t: 'error', id: 1, error: { code: 'BAD_REQUEST', message: expect.stringMatching(/received/) } })
    client.send({ t: 'stream', id: 2, path: 'count', input: { to: 1 }, credit: 5, received: 3 })
    expect(await client.take(2)).toEqual([
      { t: 'item', id: 2, data: 1 },
      { t: 'result', id: 2 },
    ])
  })

  it('caps the credit a stream holds at 2^53 − 1: grants past it are no violation, and items go on', async () => {
    // docs/protocol.md §15 `credit`: the running total is capped, not refused.
    const client = await h.open()
    client.send({ t: 'stream', id: 1, path: 'count', input: { to: 3 }, credit: 1 })
    expect(await client.next()).toEqual({ t: 'item', id: 1, data: 1 })
    client.send({ t: 'credit', id: 1, n: Number.MAX_SAFE_INTEGER })
    client.send({ t: 'credit', id: 1, n: Number.MAX_SAFE_INTEGER })
    expect(await client.take(3)).toEqual([
      { t: 'item', id: 1, data: 2 },
      { t: 'item', id: 1, data: 3 },
      { t: 'result', id: 1 },
    ])
    // A stream that starts with the whole 2^53 − 1 takes more too.
    client.send({ t: 'stream', id: 2, path: 'count', input: { to: 2 }, credit: Number.MAX_SAFE_INTEGER })
    client.send({ t: 'credit', id: 2, n: 5 })
    expect(await client.take(3)).toEqual([
      { t: 'item', id: 2, data: 1 },
      { t: 'item', id: 2, data: 2 },
      { t: 'result', id: 2 },
    ])
  })

  it('ignores credit for an id that names no stream', async () => {
    const client = await h.open()
    client.send({ t: 'credit', id: 42, n: 3 })
    expect(await client.call(1, 'math.add', { a: 1, b: 2 })).toEqual({ t: 'result', id: 1, output: 3 })
  })

  it('a disconnect stops every stream of the connection', async () => {
    const client = await h.open()
    client.send({ t: 'stream', id: 1, path: 'count', input: {}, credit: 1 })
    client.send({ t: 'stream', id: 2, path: 'count', input: {}, credit: 1 })
    await client.take(2)
    client.ws.terminate()
    await expect.poll(() => h.main.streams.finished).toBe(2)
  })
})
