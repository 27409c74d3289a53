/**
 * Raw-frame conformance: a real server on 127.0.0.1, hand-made frames, and the outcome
 * docs/protocol.md names for each. After every hostile case a second connection that was
 * open all along must still be served.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Packr } from 'msgpackr'
import { z } from 'zod'
import { PatchbayError, procedure, router, type Encoding } from '@patchbay/core'
import { createServer, type HandshakeInfo, type PatchbayServer } from '@patchbay/server'
import { connectRaw, refusal, type RawClient } from './raw-client.js'

const api = router({
  math: { add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }) },
  held: procedure({ input: z.object({ tag: z.string() }), output: z.string() }),
  crash: procedure({ output: z.null() }),
  custom: procedure({ output: z.null() }),
  health: procedure({ output: z.literal('ok') }),
  anything: procedure({ input: z.unknown(), output: z.null() }),
})

interface Started {
  server: PatchbayServer
  url: string
  held: Map<string, { release: (value: string) => void; signal: AbortSignal }>
  heldArrived: Promise<void>
}

async function start(options: { limits?: { maxInFlight?: number; maxPayload?: number }; encodings?: Encoding[]; origins?: string[]; context?: (info: HandshakeInfo) => unknown } = {}): Promise<Started> {
  const held = new Map<string, { release: (value: string) => void; signal: AbortSignal }>()
  let arrived!: () => void
  const heldArrived = new Promise<void>((resolve) => (arrived = resolve))
  const server = createServer(api, {
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.encodings === undefined ? {} : { encodings: options.encodings }),
    ...(options.origins === undefined ? {} : { origins: options.origins }),
    ...(options.context === undefined ? {} : { context: options.context }),
    handlers: {
      math: { add: ({ input }) => input.a + input.b },
      held: ({ input, signal }) =>
        new Promise<string>((resolve) => {
          held.set(input.tag, { release: resolve, signal })
          arrived()
        }),
      crash: () => {
        throw new Error('secret database password')
      },
      custom: () => {
        throw new PatchbayError('OUT_OF_STOCK', 'none left', { data: { n: 1 } })
      },
      health: () => 'ok' as const,
      anything: () => null,
    },
  })
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
  return { server, url: `ws://127.0.0.1:${port}`, held, heldArrived }
}

let started: Started
let bystander: RawClient
const sockets: RawClient[] = []

async function open(encoding: Encoding, url = started.url): Promise<RawClient> {
  const client = await connectRaw(url, encoding)
  sockets.push(client)
  return client
}

/** The bystander, open since before the test, still gets answers. */
async function stillServing(encoding: Encoding): Promise<void> {
  bystander.send({ t: 'call', id: 777, path: 'math.add', input: { a: 2, b: 3 } })
  expect(await bystander.next()).toEqual({ t: 'result', id: 777, output: 5 })
  void encoding
}

afterEach(async () => {
  for (const client of sockets.splice(0)) client.socket.terminate()
  await started?.server.close()
})

describe.each<Encoding>(['json', 'msgpack'])('conformance over %s', (encoding) => {
  beforeEach(async () => {
    started = await start()
    bystander = await open(encoding)
  })

  describe('§2 handshake', () => {
    it('takes the first offered subprotocol the server supports', async () => {
      const other = encoding === 'json' ? 'msgpack' : 'json'
      const client = await connectRaw(started.url, encoding, [`patchbay.v1.${encoding}`, `patchbay.v1.${other}`])
      sockets.push(client)
      expect(client.socket.protocol).toBe(`patchbay.v1.${encoding}`)
    })

    it.each([[[]], [['graphql-ws']], [['patchbay.v2.json']]])('refuses an offer of %j with HTTP 400 naming the supported ones', async (offer) => {
      const { status, body } = await refusal(started.url, offer as string[])
      expect(status).toBe(400)
      expect(body).toContain('patchbay.v1.msgpack')
      expect(body).toContain('patchbay.v1.json')
      await stillServing(encoding)
    })
  })

  describe('§3 envelope', () => {
    it('closes 4400 on bytes that do not decode', async () => {
      const client = await open(encoding)
      if (encoding === 'json') client.sendRaw('{"t":"call",', false)
      else client.sendRaw(new Uint8Array([0xc1, 0xff, 0x00]), true)
      expect((await client.closed).code).toBe(4400)
      await stillServing(encoding)
    })

    it('closes 1003 on a frame of the wrong kind', async () => {
      const client = await open(encoding)
      if (encoding === 'json') client.sendRaw(new Uint8Array([0x80]), true)
      else client.sendRaw('{"t":"ping"}', false)
      expect((await client.closed).code).toBe(1003)
      await stillServing(encoding)
    })

    it.each([[[1, 2]], ['text'], [null], [42], [{}], [{ t: 'launch' }], [{ t: 7 }]])('closes 4400 on %j', async (value) => {
      const client = await open(encoding)
      client.send(value)
      expect((await client.closed).code).toBe(4400)
      await stillServing(encoding)
    })

    it('ignores fields it does not know', async () => {
      const client = await open(encoding)
      client.send({ t: 'call', id: 1, path: 'math.add', input: { a: 1, b: 1 }, future: { x: 1 } })
      expect(await client.next()).toEqual({ t: 'result', id: 1, output: 2 })
    })
  })

  describe('§4 call and result, §4.1 ids', () => {
    it.each([0, 1, 2 ** 53 - 1])('echoes id %d exactly', async (id) => {
      const client = await open(encoding)
      client.send({ t: 'call', id, path: 'health' })
      expect(await client.next()).toEqual({ t: 'result', id, output: 'ok' })
    })

    it.each([['1'], [-1], [1.5], [2 ** 60], [null], [undefined]])('closes 4400 on id %j', async (id) => {
      const client = await open(encoding)
      client.send({ t: 'call', id, path: 'health' })
      expect((await client.closed).code).toBe(4400)
      await stillServing(encoding)
    })

    it('closes 4409 on an id reused while its call is in flight, and allows reuse after', async () => {
      const client = await open(encoding)
      client.send({ t: 'call', id: 9, path: 'health' })
      expect(await client.next()).toMatchObject({ id: 9 })
      client.send({ t: 'call', id: 9, path: 'health' })
      expect(await client.next()).toMatchObject({ id: 9, output: 'ok' })
      client.send({ t: 'call', id: 10, path: 'held', input: { tag: 'dup' } })
      await started.heldArrived
      client.send({ t: 'call', id: 10, path: 'health' })
      expect((await client.closed).code).toBe(4409)
      await stillServing(encoding)
    })

    it('answers 1,000 calls in one burst, each with its own id', async () => {
      const client = await open(encoding)
      for (let id = 1; id <= 1000; id++) client.send({ t: 'call', id, path: 'math.add', input: { a: id, b: 1 } })
      const answers = new Map<unknown, unknown>()
      for (let i = 0; i < 1000; i++) {
        const message = await client.next()
        answers.set(message.id, message.output)
      }
      for (let id = 1; id <= 1000; id++) expect(answers.get(id)).toBe(id + 1)
    })
  })

  describe('§5 cancel', () => {
    it('aborts the handler and sends nothing more for that id', async () => {
      const client = await open(encoding)
      client.send({ t: 'call', id: 5, path: 'held', input: { tag: 'c' } })
      await started.heldArrived
      const call = started.held.get('c')
      client.send({ t: 'cancel', id: 5 })
      client.send({ t: 'ping' })
      expect(await client.next()).toEqual({ t: 'pong' })
      expect(call?.signal.aborted).toBe(true)
      call?.release('too late')
      client.send({ t: 'ping' })
      // Had the late result been sent, it would come before this pong.
      expect(await client.next()).toEqual({ t: 'pong' })
    })

    it('ignores a cancel for an unknown id; closes 4400 on an invalid one', async () => {
      const client = await open(encoding)
      client.send({ t: 'cancel', id: 12345 })
      client.send({ t: 'ping' })
      expect(await client.next()).toEqual({ t: 'pong' })
      client.send({ t: 'cancel', id: 'x' })
      expect((await client.closed).code).toBe(4400)
    })

    it('a closed connection aborts its handlers', async () => {
      const client = await open(encoding)
      client.send({ t: 'call', id: 1, path: 'held', input: { tag: 'gone' } })
      await started.heldArrived
      client.socket.terminate()
      await client.closed
      const signal = started.held.get('gone')?.signal
      if (!signal?.aborted) await new Promise((resolve) => signal?.addEventListener('abort', resolve))
      expect(signal?.aborted).toBe(true)
    })
  })

  describe('§6 errors', () => {
    it('BAD_REQUEST with issues for invalid input', async () => {
      const client = await open(encoding)
      client.send({ t: 'call', id: 1, path: 'math.add', input: { a: 1, b: 'x' } })
      const message = await client.next()
      expect(message).toMatchObject({ t: 'error', id: 1, error: { code: 'BAD_REQUEST' } })
      expect((message.error as { issues: { path: unknown[] }[] }).issues[0]?.path).toEqual(['b'])
      client.send({ t: 'call', id: 2, path: 'health', input: { unexpected: true } })
      expect(await client.next()).toMatchObject({ id: 2, error: { code: 'BAD_REQUEST' } })
    })

    it.each(['nope', 'math', '__proto__', 'constructor', 'toString', 'math.__proto__', 'hasOwnProperty'])('NOT_FOUND for path %j, and no pollution', async (path) => {
      const client = await open(encoding)
      client.send({ t: 'call', id: 1, path, input: { polluted: true } })
      expect(await client.next()).toMatchObject({ t: 'error', id: 1, error: { code: 'NOT_FOUND' } })
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
      await stillServing(encoding)
    })

    it.each(['a..b', '', 'a-b', '1a', 'x'.repeat(300)])('BAD_REQUEST for malformed path %j', async (path) => {
      const client = await open(encoding)
      client.send({ t: 'call', id: 1, path })
      expect(await client.next()).toMatchObject({ id: 1, error: { code: 'BAD_REQUEST' } })
    })

    it('passes a handler’s own code and data; redacts anything else as INTERNAL', async () => {
      const client = await open(encoding)
      client.send({ t: 'call', id: 1, path: 'custom' })
      expect(await client.next()).toEqual({ t: 'error', id: 1, error: { code: 'OUT_OF_STOCK', message: 'none left', data: { n: 1 } } })
      client.send({ t: 'call', id: 2, path: 'crash' })
      expect(await client.next()).toEqual({ t: 'error', id: 2, error: { code: 'INTERNAL', message: 'Internal server error' } })
    })
  })

  describe('§7 ping', () => {
    it('answers ping with pong', async () => {
      const client = await open(encoding)
      client.send({ t: 'ping' })
      expect(await client.next()).toEqual({ t: 'pong' })
    })
  })

  describe('§9 untrusted input', () => {
    it('refuses a __proto__ key and input nested too deep with BAD_REQUEST; the socket lives', async () => {
      const client = await open(encoding)
      if (encoding === 'json') client.sendRaw('{"t":"call","id":1,"path":"anything","input":{"__proto__":{"polluted":1}}}', false)
      else client.send({ t: 'call', id: 1, path: 'anything', input: JSON.parse('{"__proto__":{"polluted":1}}') as unknown })
      const first = await client.next()
      // msgpackr renames the key to __proto_ while decoding, which is harmless plain data.
      if (encoding === 'json') expect(first).toMatchObject({ id: 1, error: { code: 'BAD_REQUEST' } })
      else expect(first).toMatchObject({ id: 1, output: null })
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
      let deep: unknown = 1
      for (let i = 0; i < 100; i++) deep = [deep]
      client.send({ t: 'call', id: 2, path: 'anything', input: deep })
      expect(await client.next()).toMatchObject({ id: 2, error: { code: 'BAD_REQUEST' } })
      client.send({ t: 'call', id: 3, path: 'math.add', input: { a: 1, b: 1 } })
      expect(await client.next()).toMatchObject({ id: 3, output: 2 })
    })

    it('closes 4400 on a whole frame nested 100,000 deep, and keeps serving others', async () => {
      const client = await open(encoding)
      if (encoding === 'json') client.sendRaw('['.repeat(100_000) + ']'.repeat(100_000), false)
      else client.sendRaw(new Uint8Array(100_000).fill(0x91), true)
      expect((await client.closed).code).toBe(4400)
      await stillServing(encoding)
    })

  })
})

describe('server options', () => {
  it('§9 refuses values made by msgpack extensions with BAD_REQUEST', async () => {
    started = await start()
    bystander = await open('msgpack')
    const client = await open('msgpack')
    const hostile = new Packr({ moreTypes: true, useRecords: false })
    const values = [new Date(0), new Set([1]), /a+/, 2n ** 64n, new Float32Array([1])]
    for (const [i, value] of values.entries()) {
      client.sendRaw(hostile.pack({ t: 'call', id: i + 1, path: 'anything', input: { value } }), true)
      expect(await client.next()).toMatchObject({ id: i + 1, error: { code: 'BAD_REQUEST' } })
    }
  })

  it('§2 refuses a bad Origin with 403 and accepts a listed one', async () => {
    started = await start({ origins: ['http://app.test'] })
    expect((await refusal(started.url, ['patchbay.v1.json'], { Origin: 'http://evil.test' })).status).toBe(403)
    const client = await connectRaw(started.url, 'json')
    sockets.push(client)
    client.socket.close()
    const { WebSocket } = await import('ws')
    const allowed = new WebSocket(started.url, ['patchbay.v1.json'], { headers: { Origin: 'http://app.test' } })
    await new Promise((resolve, reject) => {
      allowed.once('open', resolve)
      allowed.once('error', reject)
    })
    allowed.close()
  })

  it.each([
    [new PatchbayError('UNAUTHORIZED', 'log in'), 401],
    [new PatchbayError('FORBIDDEN', 'no'), 403],
    [new PatchbayError('BAD_REQUEST', 'bad token format'), 400],
    [new Error('secret database password'), 500],
  ])('§2 the context hook throwing %s refuses with %d before any session', async (error, status) => {
    started = await start({
      context: () => {
        throw error
      },
    })
    const refused = await refusal(started.url, ['patchbay.v1.json'])
    expect(refused.status).toBe(status)
    expect(refused.body).not.toContain('secret')
    expect(started.server.connectionCount).toBe(0)
  })

  it('§2 a server limited to json refuses a msgpack-only offer', async () => {
    started = await start({ encodings: ['json'] })
    expect((await refusal(started.url, ['patchbay.v1.msgpack'])).status).toBe(400)
  })

  it('§6 TOO_MANY_REQUESTS over maxInFlight; the socket lives', async () => {
    started = await start({ limits: { maxInFlight: 2 } })
    const client = await open('json')
    client.send({ t: 'call', id: 1, path: 'held', input: { tag: 'a' } })
    client.send({ t: 'call', id: 2, path: 'held', input: { tag: 'b' } })
    client.send({ t: 'call', id: 3, path: 'health' })
    expect(await client.next()).toMatchObject({ id: 3, error: { code: 'TOO_MANY_REQUESTS' } })
    started.held.get('a')?.release('done')
    expect(await client.next()).toEqual({ t: 'result', id: 1, output: 'done' })
    client.send({ t: 'call', id: 4, path: 'health' })
    expect(await client.next()).toEqual({ t: 'result', id: 4, output: 'ok' })
  })

  it('§9 closes 1009 on a frame over maxPayload', async () => {
    started = await start({ limits: { maxPayload: 1024 } })
    bystander = await open('json')
    const client = await open('json')
    client.send({ t: 'call', id: 1, path: 'anything', input: 'x'.repeat(2048) })
    expect((await client.closed).code).toBe(1009)
    await stillServing('json')
  })

  it('§8 server.close() closes clients with 1001', async () => {
    started = await start()
    const client = await open('msgpack')
    const closing = started.server.close()
    expect((await client.closed).code).toBe(1001)
    await closing
  })
})

describe('§8 graceful shutdown', () => {
  it('lets calls in flight finish before closing with 1001', async () => {
    started = await start()
    const client = await open('json')
    client.send({ t: 'call', id: 1, path: 'held', input: { tag: 'late' } })
    await started.heldArrived
    const closing = started.server.close()
    // New connections are refused while the server drains.
    expect((await refusal(started.url, ['patchbay.v1.json'])).status).toBe(503)
    started.held.get('late')?.release('finished')
    expect(await client.next()).toEqual({ t: 'result', id: 1, output: 'finished' })
    expect((await client.closed).code).toBe(1001)
    await closing
  })
})
