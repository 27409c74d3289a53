/**
 * createCaller (`@patchbay/server/testing`): a server's procedures and streams called
 * in-process, through the same validation, middleware and error mapping as a socket's calls,
 * once per encoding.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { ErrorCode, PatchbayError, type Encoding } from '@patchbay/core'
import type { PatchbayServer } from '@patchbay/server'
import { createCaller } from '@patchbay/server/testing'
import { makeServer } from './fixture.js'

const servers: PatchbayServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

function setup(options: Parameters<typeof makeServer>[0] = {}) {
  const made = makeServer(options)
  servers.push(made.server)
  return made
}

async function rejection(promise: Promise<unknown>): Promise<PatchbayError> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(PatchbayError)
  return error as PatchbayError
}

describe.each<Encoding>(['json', 'msgpack'])('createCaller (%s)', (encoding) => {
  it('calls a procedure with a typed input and output, input validated', async () => {
    const { server } = setup()
    const caller = createCaller(server, { ctx: { user: null }, encoding })
    expect(await caller.math.add({ a: 2, b: 3 })).toBe(5)
    const bad = await rejection(caller.math.add({ a: 'two' as unknown as number, b: 3 }))
    expect(bad.code).toBe(ErrorCode.BAD_REQUEST)
    expect(bad.issues?.length).toBeGreaterThan(0)
  })

  it('validates the output when the server does, as a socket client would see it (INTERNAL)', async () => {
    const { server } = setup({ validateOutput: true, logger: false })
    const caller = createCaller(server, { ctx: { user: null }, encoding })
    expect((await rejection(caller.math.broken())).code).toBe(ErrorCode.INTERNAL)
    const lax = setup({ logger: false }).server
    // Without validateOutput the handler's value goes through, as on a socket.
    expect(await createCaller(lax, { ctx: { user: null }, encoding }).math.broken()).toBe('not a number')
    // A result no encoding carries fails the call, as the session's reply does (§9).
    const date = await rejection(caller.date())
    expect([date.code, date.message]).toEqual([ErrorCode.INTERNAL, 'Result could not be encoded'])
  })

  it('runs middleware in order, and the handler sees the context it extended', async () => {
    const { server, probe } = setup()
    const caller = createCaller(server, { ctx: { user: 'ann' }, encoding })
    const me = await caller.me()
    expect(me).toEqual({ name: 'ann', trace: ['outer>me', 'authed', 'handler:ANN'] })
    expect(probe.trace).toEqual(['outer>me', 'authed', 'handler:ANN', 'outer<me'])
    // The same middleware refuses without a user: the code a client gets.
    const refused = await rejection(createCaller(server, { ctx: { user: null }, encoding }).me())
    expect(refused.code).toBe(ErrorCode.UNAUTHORIZED)
    expect(refused.message).toBe('Sign in first')
  })

  it("answers a handler's PatchbayError with its code and message", async () => {
    const { server } = setup()
    const error = await rejection(createCaller(server, { ctx: { user: null }, encoding }).forbidden())
    expect([error.code, error.message]).toEqual([ErrorCode.FORBIDDEN, 'Not yours'])
  })

  it("aborting the call's signal aborts the handler's and fails the call with CANCELLED", async () => {
    const { server, probe } = setup()
    const caller = createCaller(server, { ctx: { user: null }, encoding })
    const controller = new AbortController()
    const call = caller.hang({ tag: 'a' }, { signal: controller.signal })
    await expect.poll(() => probe.aborted.has('a')).toBe(true)
    controller.abort()
    expect((await rejection(call)).code).toBe(ErrorCode.CANCELLED)
    const reason = await probe.aborted.get('a')
    expect(reason).toBeInstanceOf(PatchbayError)
    expect((reason as PatchbayError).code).toBe(ErrorCode.CANCELLED)
  })

  it('streams items as an async iterable, the handler pulled no further than its credit', async () => {
    const { server, probe } = setup()
    const caller = createCaller(server, { ctx: { user: null }, encoding })
    const items = caller.count({ to: 1000 }, { credit: 4 })
    const first = await items.next()
    expect(first).toEqual({ value: { n: 1 }, done: false })
    // Credit 4, one item taken and granted back: the handler may be at most 5 ahead.
    await new Promise((resolve) => setImmediate(resolve))
    expect(probe.produced).toBeLessThanOrEqual(5)
    const seen: number[] = []
    for await (const item of items) {
      seen.push(item.n)
      if (item.n === 10) break
    }
    expect(seen).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10])
    // Leaving the loop ended the generator (its finally ran) well before 1000.
    await probe.countEnded
    expect(probe.produced).toBeLessThan(20)
    const all: number[] = []
    for await (const item of caller.count({ to: 40 })) all.push(item.n)
    expect(all).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
  })
})
