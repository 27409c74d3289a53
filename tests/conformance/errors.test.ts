/**
 * §6 errors: the error message a call gets for each way it can fail, and that the
 * connection lives on after every one of them.
 */
import { describe, expect, it } from 'vitest'
import { DEFAULT_LIMITS, type Encoding } from '@patchbay/core'
import { ENCODINGS, prototypePolluted, useHarness } from './support.js'

describe.each<Encoding>(ENCODINGS)('§6 errors (%s)', (encoding) => {
  const h = useHarness(encoding)

  it('BAD_REQUEST with issues for input that fails validation', async () => {
    const client = await h.open()
    const answer = await client.call(1, 'math.add', { a: 1, b: 'two' })
    expect(answer).toMatchObject({ t: 'error', id: 1, error: { code: 'BAD_REQUEST' } })
    const issues = (answer.error as { issues: { path: unknown[]; message: string }[] }).issues
    expect(issues).toHaveLength(1)
    expect(issues[0]?.path).toEqual(['b'])
    expect(typeof issues[0]?.message).toBe('string')
    // Missing input entirely also fails validation.
    expect(await client.call(2, 'math.add')).toMatchObject({ t: 'error', id: 2, error: { code: 'BAD_REQUEST' } })
    expect(await client.call(3, 'math.add', { a: 1, b: 2 })).toEqual({ t: 'result', id: 3, output: 3 })
  })

  it('BAD_REQUEST for input sent to a procedure that takes none; null or absent input is fine', async () => {
    const client = await h.open()
    expect(await client.call(1, 'health', { a: 1 })).toEqual({
      t: 'error',
      id: 1,
      error: { code: 'BAD_REQUEST', message: 'This procedure takes no input' },
    })
    expect(await client.call(2, 'health', 0)).toMatchObject({ t: 'error', id: 2, error: { code: 'BAD_REQUEST' } })
    client.send({ t: 'call', id: 3, path: 'health', input: null })
    expect(await client.next()).toEqual({ t: 'result', id: 3, output: 'ok' })
    expect(await client.call(4, 'health')).toEqual({ t: 'result', id: 4, output: 'ok' })
  })

  it.each(['nope', 'math', 'math.nope', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'math.__proto__', 'math.add.constructor', 'held.echo.call'])(
    'NOT_FOUND for %s, and nothing is polluted',
    async (path) => {
      const client = await h.open()
      const answer = await client.call(11, path, { a: 1, b: 2 })
      expect(answer).toMatchObject({ t: 'error', id: 11, error: { code: 'NOT_FOUND' } })
      expect((answer.error as { message: string }).message).toContain(path)
      expect(prototypePolluted()).toBe(false)
    },
  )

  it.each([
    ['a..b', 'a..b'],
    ['empty', ''],
    ['a-b', 'a-b'],
    ['a leading dot', '.math.add'],
    ['a trailing dot', 'math.add.'],
    ['a digit first', '1math'],
    ['a space', 'math add'],
    ['a slash', 'math/add'],
  ])('BAD_REQUEST for a path that is not a dotted identifier: %s', async (_name, path) => {
    const client = await h.open()
    expect(await client.call(12, path, { a: 1, b: 2 })).toEqual({
      t: 'error',
      id: 12,
      error: { code: 'BAD_REQUEST', message: 'path is not a dotted identifier' },
    })
  })

  it.each<[string, unknown]>([
    ['a number', 42],
    ['null', null],
    ['an array', ['math', 'add']],
    ['missing', undefined],
  ])('BAD_REQUEST for a path that is %s', async (_name, path) => {
    const client = await h.open()
    client.send(path === undefined ? { t: 'call', id: 13 } : { t: 'call', id: 13, path })
    expect(await client.next()).toEqual({ t: 'error', id: 13, error: { code: 'BAD_REQUEST', message: 'path must be a string' } })
  })

  it('BAD_REQUEST for a path longer than limits.maxPathLength; exactly the limit is looked up', async () => {
    const client = await h.open()
    const max = DEFAULT_LIMITS.maxPathLength
    const tooLong = await client.call(14, 'a'.repeat(max + 1))
    expect(tooLong).toMatchObject({ t: 'error', id: 14, error: { code: 'BAD_REQUEST' } })
    expect((tooLong.error as { message: string }).message).toContain(String(max))
    expect(await client.call(15, 'a'.repeat(max))).toMatchObject({ t: 'error', id: 15, error: { code: 'NOT_FOUND' } })
  })

  it("passes a handler's PatchbayError code, message and data unchanged", async () => {
    const client = await h.open()
    expect(await client.call(16, 'fail.custom')).toEqual({
      t: 'error',
      id: 16,
      error: { code: 'OUT_OF_STOCK', message: 'x', data: { n: 1 } },
    })
  })

  it('redacts any other throw to INTERNAL / "Internal server error" with nothing else', async () => {
    const client = await h.open()
    const answer = await client.call(17, 'fail.crash')
    expect(answer).toEqual({ t: 'error', id: 17, error: { code: 'INTERNAL', message: 'Internal server error' } })
    expect(JSON.stringify(answer)).not.toMatch(/secret|password|stack/i)
  })

  it('TOO_MANY_REQUESTS past maxInFlight; the socket lives and the held calls finish', async () => {
    const limited = await h.start({ limits: { maxInFlight: 2 } })
    const client = await h.open(limited)
    client.send({ t: 'call', id: 1, path: 'held.echo', input: { n: 1 } })
    client.send({ t: 'call', id: 2, path: 'held.echo', input: { n: 2 } })
    client.send({ t: 'call', id: 3, path: 'held.echo', input: { n: 3 } })
    const refused = await client.next()
    expect(refused).toMatchObject({ t: 'error', id: 3, error: { code: 'TOO_MANY_REQUESTS' } })
    expect(limited.held.has(3)).toBe(false)
    await limited.heldArrived(2)
    limited.release(1)
    expect(await client.next()).toEqual({ t: 'result', id: 1, output: { n: 1 } })
    // A slot is free again.
    client.send({ t: 'call', id: 4, path: 'held.echo', input: { n: 4 } })
    await limited.heldArrived(3)
    limited.release(2)
    limited.release(4)
    expect(await client.take(2)).toEqual([
      { t: 'result', id: 2, output: { n: 2 } },
      { t: 'result', id: 4, output: { n: 4 } },
    ])
    expect(client.isOpen).toBe(true)
  })
})
