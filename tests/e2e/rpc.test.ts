import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PatchbayError, type Encoding } from '@patchbay/core'
import { createCaller } from '@patchbay/server/testing'
import { startFixture, type Fixture } from './fixtures.js'

async function rejection(promise: Promise<unknown>): Promise<PatchbayError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(PatchbayError)
    return error as PatchbayError
  }
  throw new Error('expected the call to fail')
}

describe.each<Encoding>(['json', 'msgpack'])('RPC end to end over %s', (encoding) => {
  let fx: Fixture
  beforeEach(async () => {
    fx = await startFixture()
  })
  afterEach(async () => {
    await fx.close()
  })

  it('makes a typed call over the negotiated subprotocol', async () => {
    const client = fx.client(encoding)
    await expect(client.math.add({ a: 1, b: 2 })).resolves.toBe(3)
    expect(client.encoding).toBe(encoding)
    expect(client.state).toBe('open')
    await expect(client.health()).resolves.toBe('ok')
  })

  it('gives handlers the schema output (transforms applied)', async () => {
    const client = fx.client(encoding)
    await expect(client.transform({ at: 'hello' })).resolves.toBe(5)
  })

  it('correlates 1,000 concurrent calls answered out of order', async () => {
    const client = fx.client(encoding)
    const count = 1000
    const calls = Array.from({ length: count }, (_, n) => client.held.echo({ n }))
    await fx.heldArrived(count)
    // Release in a scrambled but deterministic order: every reply lands far from its request.
    const order = Array.from({ length: count }, (_, i) => (i * 7919) % count)
    expect(new Set(order).size).toBe(count)
    for (const n of order) fx.held.get(n)?.()
    const results = await Promise.all(calls)
    results.forEach((result, n) => expect(result).toEqual({ n }))
    expect(client.stats.lateReplies).toBe(0)
  })

  it('BAD_REQUEST carries the validation issues and the socket lives on', async () => {
    const client = fx.client(encoding)
    const error = await rejection(client.math.add({ a: 1, b: 'two' } as unknown as { a: number; b: number }))
    expect(error.code).toBe('BAD_REQUEST')
    expect(error.issues?.[0]?.path).toEqual(['b'])
    await expect(client.math.add({ a: 2, b: 2 })).resolves.toBe(4)
  })

  it('NOT_FOUND for a procedure the server lacks', async () => {
    const client = fx.client(encoding)
    const error = await rejection(client.ghost())
    expect(error.code).toBe('NOT_FOUND')
    await expect(client.health()).resolves.toBe('ok')
  })

  it('UNAUTHORIZED and FORBIDDEN thrown by handlers', async () => {
    const client = fx.client(encoding)
    expect((await rejection(client.fail.unauthorized())).code).toBe('UNAUTHORIZED')
    const forbidden = await rejection(client.fail.forbidden())
    expect(forbidden.code).toBe('FORBIDDEN')
    expect(forbidden.message).toBe('admins only')
  })

  it('a handler-thrown custom code keeps its message and data', async () => {
    const client = fx.client(encoding)
    const error = await rejection(client.fail.custom({ sku: 'lamp' }))
    expect(error.code).toBe('OUT_OF_STOCK')
    expect(error.message).toBe('no lamp')
    expect(error.data).toEqual({ sku: 'lamp', left: 0 })
  })

  it('INTERNAL is redacted: no message, no stack', async () => {
    const client = fx.client(encoding)
    const error = await rejection(client.fail.crash())
    expect(error.code).toBe('INTERNAL')
    expect(error.message).not.toContain('hunter2')
    expect(JSON.stringify({ ...error, message: error.message })).not.toContain('hunter2')
  })

  it('a result that is not plain data (a Date) fails that call as INTERNAL; the socket lives', async () => {
    const client = fx.client(encoding)
    expect((await rejection(client.fail.date())).code).toBe('INTERNAL')
    await expect(client.math.add({ a: 1, b: 2 })).resolves.toBe(3)
    expect(client.state).toBe('open')
  })

  it('TIMEOUT when no result arrives in time, per call and by default', async () => {
    const client = fx.client(encoding, { timeout: 100 })
    const byDefault = await rejection(client.held.forever({ tag: 'default' }))
    expect(byDefault.code).toBe('TIMEOUT')
    const perCall = await rejection(client.held.forever({ tag: 'per-call' }, { timeout: 20 }))
    expect(perCall.code).toBe('TIMEOUT')
    // The server is told: a timed-out call is cancelled there too.
    await fx.abortedSignal('per-call')
    await expect(client.math.add({ a: 1, b: 1 })).resolves.toBe(2)
  })

  it('an AbortSignal cancels the call and aborts the handler signal on the server', async () => {
    const client = fx.client(encoding)
    const controller = new AbortController()
    const call = client.held.forever({ tag: 'abort-me' }, { signal: controller.signal })
    // Wait until the handler runs before aborting so the cancel has something to abort.
    await client.math.add({ a: 0, b: 0 })
    controller.abort(new Error('user navigated away'))
    const error = await rejection(call)
    expect(error.code).toBe('CANCELLED')
    await fx.abortedSignal('abort-me')
    expect(fx.aborted.has('abort-me')).toBe(true)
    await expect(client.math.add({ a: 5, b: 5 })).resolves.toBe(10)
  })

  it('closing the client aborts its handlers on the server', async () => {
    const client = fx.client(encoding)
    const call = client.held.forever({ tag: 'on-close' })
    await client.math.add({ a: 0, b: 0 })
    const settled = call.catch((error: unknown) => error)
    await client.close()
    expect(((await settled) as PatchbayError).code).toBe('CONNECTION_LOST')
    await fx.abortedSignal('on-close')
  })

  it('the handshake context reaches handlers', async () => {
    const client = fx.client(encoding, { url: `${fx.url}/?user=ada` })
    await expect(client.whoami()).resolves.toEqual({ user: 'ada' })
    const anonymous = fx.client(encoding)
    await expect(anonymous.whoami()).resolves.toEqual({ user: null })
  })

  it('two clients on one server are independent', async () => {
    const a = fx.client(encoding)
    const b = fx.client(encoding)
    const slow = a.held.echo({ n: 1 })
    await fx.heldArrived(1)
    await expect(b.math.add({ a: 40, b: 2 })).resolves.toBe(42)
    fx.held.get(1)?.()
    await expect(slow).resolves.toEqual({ n: 1 })
  })
})

// Options of what a handler returns or throws: the in-process caller (@patchbay/server/testing)
// answers as a client would, with no client to make; the suite above covers the sockets.
describe.each<Encoding>(['json', 'msgpack'])('server options over %s', (encoding) => {
  const caller = (fx: Fixture) => createCaller(fx.server, { ctx: { user: null }, encoding })

  it('exposeErrors sends the message of a plain throw, never the stack', async () => {
    const fx = await startFixture({ exposeErrors: true })
    try {
      const error = await rejection(caller(fx).fail.crash())
      expect(error.code).toBe('INTERNAL')
      expect(error.message).toBe('database password is hunter2')
      expect(JSON.stringify(error.data ?? null)).not.toContain('at ')
    } finally {
      await fx.close()
    }
  })

  it('validateOutput turns a contract-breaking result into INTERNAL', async () => {
    const fx = await startFixture({ validateOutput: true })
    try {
      const error = await rejection(caller(fx).fail.badOutput())
      expect(error.code).toBe('INTERNAL')
    } finally {
      await fx.close()
    }
  })

  it('without validateOutput the result passes through unchecked', async () => {
    const fx = await startFixture()
    try {
      await expect(caller(fx).fail.badOutput()).resolves.toBe('not a number')
    } finally {
      await fx.close()
    }
  })
})
