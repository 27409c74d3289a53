/**
 * What the server logs (docs/guide/logging.md): every event an operator needs, triggered for
 * real on loopback sockets, at its level with its fields, each naming its connection; no
 * token, cookie, header value or input at any level; nothing built for a level that is off.
 */
import { Writable } from 'node:stream'
import { afterEach, describe, expect, it, vi } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { pino } from 'pino'
import { CloseCode, PatchbayError, procedure, router, topic } from '@patchbay/core'
import { createServer, type Logger, type PatchbayServer, type ServerOptions } from '@patchbay/server'
import { createClient, type Client } from '@patchbay/client'
import { connectRaw, type RawClient } from '../conformance/support.js'
import { toWire } from '../support/wire.js'

const api = router({
  echo: procedure({ input: z.string(), output: z.string() }),
  fail: procedure({ input: z.string(), output: z.string() }),
  feed: topic({ message: z.string() }),
  dropped: topic({ message: z.string(), backpressure: 'drop' }),
})

type Level = 'error' | 'warn' | 'info' | 'debug'
interface Line {
  level: Level
  fields: Record<string, unknown>
  message: string
}

/** A pino-shaped logger that records every line, with a waiter for the one a test expects. */
function recorder(enabled: (level: Level) => boolean = () => true) {
  const lines: Line[] = []
  const waiters = new Set<() => void>()
  const at =
    (level: Level) =>
    (fields: Record<string, unknown>, message: string): void => {
      lines.push({ level, fields, message })
      for (const wake of [...waiters]) wake()
    }
  const logger: Logger = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), isLevelEnabled: enabled }
  /** The first line that matches, once it is logged. */
  const waitFor = (match: (line: Line) => boolean): Promise<Line> =>
    new Promise((resolve) => {
      const check = (): void => {
        const found = lines.find(match)
        if (found === undefined) return
        waiters.delete(check)
        resolve(found)
      }
      waiters.add(check)
      check()
    })
  return { logger, lines, waitFor }
}

const servers: PatchbayServer[] = []
const clients: Client<typeof api>[] = []
const raws: RawClient[] = []
afterEach(async () => {
  for (const raw of raws.splice(0)) raw.ws.terminate()
  await Promise.all(clients.splice(0).map((client) => client.close()))
  await Promise.all(servers.splice(0).map((server) => server.close()))
  vi.restoreAllMocks()
})

async function start(options: Partial<ServerOptions<typeof api, unknown>>): Promise<{ server: PatchbayServer; url: string }> {
  const server = createServer(api, {
    handlers: {
      echo: ({ input }) => input,
      fail: () => {
        throw new TypeError('boom')
      },
    },
    ...options,
  } as ServerOptions<typeof api, unknown>)
  servers.push(server)
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
  return { server, url: `ws://127.0.0.1:${port}` }
}

async function raw(url: string, options: Parameters<typeof connectRaw>[2] = {}): Promise<RawClient> {
  const made = await connectRaw(url, 'json', options)
  raws.push(made)
  return made
}

function client(url: string, options: Partial<Parameters<typeof createClient>[1]> = {}): Client<typeof api> {
  const made = createClient(api, { url, WebSocket, reconnect: false, encodings: ['json'], ...options })
  clients.push(made)
  return made
}

const closedLine = (id: string) => (line: Line) => line.message.startsWith('Connection closed') && line.fields.connectionId === id

/** The id of the only connection open now. */
function onlyConnection(server: PatchbayServer): string {
  const [only, ...more] = server.connections()
  expect(more).toEqual([])
  return (only as { id: string }).id
}

describe('connections', () => {
  it('logs the open at debug and the close at info, with code, reason, who closed and the duration, under one connection id', async () => {
    const { logger, lines, waitFor } = recorder()
    const { server, url } = await start({ logger })
    const peer = await raw(url)
    const id = onlyConnection(server)
    peer.ws.close(1000, 'bye')
    const closed = await waitFor(closedLine(id))
    const opened = lines.find((line) => line.message === 'Connection opened')
    expect(opened).toEqual({ level: 'debug', fields: { connectionId: id, encoding: 'json', remoteAddress: '127.0.0.1' }, message: 'Connection opened' })
    expect(closed).toEqual({
      level: 'info',
      fields: { connectionId: id, code: 1000, reason: 'bye', by: 'peer', durationMs: expect.any(Number) },
      message: 'Connection closed with 1000',
    })
    expect(closed.fields.durationMs).toBeGreaterThanOrEqual(0)
  })

  it("a kick logs the server's own code and reason, not the peer's echo", async () => {
    const { logger, waitFor } = recorder()
    const { server, url } = await start({ logger })
    const peer = await raw(url)
    const id = onlyConnection(server)
    expect(server.disconnect(id, 4001, 'kicked by an admin')).toBe(true)
    await peer.closed
    expect((await waitFor(closedLine(id))).fields).toMatchObject({ code: 4001, reason: 'kicked by an admin', by: 'server' })
  })

  it('a shutdown logs 1001 by the server for each connection', async () => {
    const { logger, waitFor } = recorder()
    const { server, url } = await start({ logger })
    await raw(url)
    const id = onlyConnection(server)
    await server.close()
    expect((await waitFor(closedLine(id))).fields).toMatchObject({ code: CloseCode.GOING_AWAY, by: 'server' })
  })
})

describe('refused handshakes', () => {
  it('a wrong subprotocol is a warning (the deployment is wrong), with the peer address and no connection', async () => {
    const { logger, waitFor } = recorder()
    const { url } = await start({ logger })
    await expect(connectRaw(url, 'json', { protocols: ['graphql-ws'] })).rejects.toThrow(/400/)
    expect(await waitFor((line) => line.fields.status === 400)).toEqual({
      level: 'warn',
      fields: { status: 400, reason: expect.stringContaining('No supported WebSocket subprotocol'), remoteAddress: '127.0.0.1' },
      message: expect.stringContaining('Refused a WebSocket upgrade with HTTP 400'),
    })
  })

  it('an auth refusal is info, with the reason the context hook gave', async () => {
    const { logger, waitFor } = recorder()
    const { url } = await start({
      logger,
      context: () => {
        throw new PatchbayError('UNAUTHORIZED', 'Sign in again')
      },
    })
    await expect(client(url).connect()).rejects.toMatchObject({ cause: { status: 401 } })
    expect(await waitFor((line) => line.fields.status === 401)).toEqual({
      level: 'info',
      fields: { status: 401, reason: 'Sign in again', remoteAddress: '127.0.0.1' },
      message: 'Refused a WebSocket upgrade with HTTP 401: Sign in again',
    })
  })

  it('a connection limit reached is a warning', async () => {
    const { logger, waitFor } = recorder()
    const { url } = await start({ logger, maxConnections: 1 })
    await raw(url)
    await expect(connectRaw(url, 'json')).rejects.toThrow(/503/)
    expect(await waitFor((line) => line.fields.status === 503)).toMatchObject({ level: 'warn', fields: { reason: 'Too many connections' } })
  })
})

describe('protocol violations (docs/protocol.md §3, §9.1, §2.2)', () => {
  it('a frame that is not JSON: warn, closed 4400, and the close line names the same connection', async () => {
    const { logger, waitFor } = recorder()
    const { server, url } = await start({ logger })
    const peer = await raw(url)
    const id = onlyConnection(server)
    peer.sendRaw('this is not json', false)
    await peer.expectClose(CloseCode.BAD_REQUEST)
    expect(await waitFor((line) => line.message.startsWith('Protocol violation'))).toEqual({
      level: 'warn',
      fields: { connectionId: id, code: CloseCode.BAD_REQUEST, reason: 'frame is not valid JSON' },
      message: 'Protocol violation, closing with 4400: frame is not valid JSON',
    })
    expect((await waitFor(closedLine(id))).fields).toMatchObject({ code: CloseCode.BAD_REQUEST, reason: 'frame is not valid JSON', by: 'server' })
  })

  it('an unknown message type: warn, closed 4400', async () => {
    const { logger, waitFor } = recorder()
    const { server, url } = await start({ logger })
    const peer = await raw(url)
    const id = onlyConnection(server)
    // An integer tag that is no type of docs/protocol.md §3.
    peer.send([99, 1])
    await peer.expectClose(CloseCode.BAD_REQUEST)
    expect((await waitFor((line) => line.message.startsWith('Protocol violation'))).fields).toEqual({ connectionId: id, code: CloseCode.BAD_REQUEST, reason: 'unknown message type' })
  })

  it('an oversized frame (ws refuses it): warn, closed 1009', async () => {
    const { logger, waitFor } = recorder()
    const { server, url } = await start({ logger, limits: { maxPayload: 1024 } })
    const peer = await raw(url)
    const id = onlyConnection(server)
    peer.sendRaw('x'.repeat(4096), false)
    expect((await peer.closed).code).toBe(CloseCode.MESSAGE_TOO_BIG)
    expect(await waitFor((line) => line.message.startsWith('Protocol violation'))).toMatchObject({
      level: 'warn',
      fields: { connectionId: id, code: CloseCode.MESSAGE_TOO_BIG, reason: 'Max payload size exceeded' },
    })
    expect((await waitFor(closedLine(id))).fields).toMatchObject({ code: CloseCode.MESSAGE_TOO_BIG, by: 'server' })
  })

  it('a flood past the rate limit: a debug line per answered request, then warn and closed 4429', async () => {
    const { logger, lines, waitFor } = recorder()
    const { server, url } = await start({ logger, rateLimit: { perSecond: 1, burst: 2 } })
    const peer = await raw(url)
    const id = onlyConnection(server)
    // One write: the whole burst arrives within one turn, so no token comes back meanwhile.
    peer.ws.send(JSON.stringify(toWire({ t: 'call', id: 1, path: 'echo', input: 'a' })))
    for (let n = 2; n <= 8; n++) peer.ws.send(JSON.stringify(toWire({ t: 'call', id: n, path: 'echo', input: 'a' })))
    await peer.closed
    expect(await waitFor((line) => line.message.startsWith('Protocol violation'))).toMatchObject({
      level: 'warn',
      fields: { connectionId: id, code: CloseCode.TOO_MANY_REQUESTS, reason: 'Message rate limit exceeded' },
    })
    const limited = lines.filter((line) => line.message === 'Answered a request RATE_LIMITED')
    expect(limited.length).toBeGreaterThan(0)
    for (const line of limited) expect(line).toMatchObject({ level: 'debug', fields: { connectionId: id, id: expect.any(Number) } })
  })
})

describe('slow consumers and drops (docs/protocol.md §14)', () => {
  /** A raw subscriber of `path` that stops reading once confirmed. */
  async function stalled(url: string, path: string): Promise<RawClient> {
    const peer = await raw(url)
    peer.send({ t: 'sub', id: 1, path })
    expect(await peer.next()).toMatchObject({ t: 'result', id: 1 })
    peer.ws.pause()
    return peer
  }

  const publishUntil = async (server: PatchbayServer, path: 'feed' | 'dropped', done: () => boolean): Promise<void> => {
    const pad = 'p'.repeat(16 * 1024)
    for (let n = 0; n < 2_000 && !done(); n++) {
      server.publish(api[path], undefined, pad)
      if (n % 8 === 7) await new Promise((resolve) => setImmediate(resolve))
    }
  }

  it('a stalled reader of a queue topic: warn with its buffered bytes, closed 4507', async () => {
    const { logger, lines, waitFor } = recorder()
    const { server, url } = await start({ logger, backpressure: { highWaterMark: 64 * 1024, maxBuffered: 512 * 1024 } })
    await stalled(url, 'feed')
    const id = onlyConnection(server)
    await publishUntil(server, 'feed', () => lines.some((line) => line.message.startsWith('Slow consumer')))
    expect(await waitFor((line) => line.message.startsWith('Slow consumer'))).toMatchObject({
      level: 'warn',
      fields: { connectionId: id, code: CloseCode.SLOW_CONSUMER, reason: expect.stringContaining('Outbound buffer passed'), bufferedAmount: expect.any(Number) },
    })
  })

  it('a stalled reader of a drop topic: a debug line per congestion episode (not per drop), naming the topic', async () => {
    const { logger, lines } = recorder()
    const { server, url } = await start({ logger, backpressure: { highWaterMark: 64 * 1024, maxBuffered: 64 * 1024 * 1024 } })
    await stalled(url, 'dropped')
    const id = onlyConnection(server)
    await publishUntil(server, 'dropped', () => server.stats.dropped >= 200)
    expect(server.stats.dropped).toBeGreaterThanOrEqual(200)
    const dropping = lines.filter((line) => line.message.startsWith('Dropping'))
    // Until the kernel's buffers are full the socket may drain now and then, each drain ending
    // an episode; once they are, one episode lasts: far fewer lines than drops either way.
    expect(dropping.length).toBeGreaterThanOrEqual(1)
    expect(dropping.length).toBeLessThan(server.stats.dropped / 4)
    for (const line of dropping) {
      expect(line).toEqual({ level: 'debug', fields: { connectionId: id, topic: 'dropped', policy: 'drop' }, message: 'Dropping events of "dropped" for a congested reader' })
    }
  })
})

describe('heartbeats (docs/protocol.md §7)', () => {
  it('a peer that stops answering pings: info, then the close line says the server ended it', async () => {
    const { logger, waitFor } = recorder()
    const { server, url } = await start({ logger, heartbeatInterval: 100 })
    await raw(url, { autoPong: false })
    const id = onlyConnection(server)
    expect(await waitFor((line) => line.message.startsWith('No pong'))).toEqual({
      level: 'info',
      fields: { connectionId: id, intervalMs: 100 },
      message: 'No pong within heartbeatInterval; terminated the connection',
    })
    expect((await waitFor(closedLine(id))).fields).toMatchObject({ code: CloseCode.ABNORMAL, by: 'server' })
  })
})

describe('what is never logged', () => {
  const MARKER = 'zebra-marker-7f3a'

  it('no token, cookie, header value, query or input reaches any line at any level', async () => {
    const { logger, lines, waitFor } = recorder()
    const { server, url } = await start({
      logger,
      limits: { maxPayload: 4096 },
      context: ({ token }) => {
        if (token === `${MARKER}-refuse`) throw new PatchbayError('UNAUTHORIZED', 'Sign in again')
        if (token === `${MARKER}-throw`) throw new Error('the context hook failed')
        return { user: 'u1' }
      },
    })
    /** Every way a secret rides a handshake: the token subprotocol, a cookie, a header, the query. */
    class Secretive extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(`${address}/?token=${MARKER}`, protocols, { headers: { cookie: `session=${MARKER}`, authorization: `Bearer ${MARKER}` } })
      }
    }
    const caller = client(url, { WebSocket: Secretive, token: `${MARKER}-ok` })
    await expect(caller.echo(`${MARKER}-input`)).resolves.toBe(`${MARKER}-input`)
    await expect(caller.fail(`${MARKER}-input`)).rejects.toMatchObject({ code: 'INTERNAL' })
    await caller.close()
    await expect(client(url, { WebSocket: Secretive, token: `${MARKER}-refuse` }).connect()).rejects.toMatchObject({ cause: { status: 401 } })
    await expect(client(url, { WebSocket: Secretive, token: `${MARKER}-throw` }).connect()).rejects.toMatchObject({ cause: { status: 500 } })
    // Violations carrying the marker: a bad frame, a type that is no tag (§3), an oversized frame.
    for (const frame of [`${MARKER} not json`, JSON.stringify([MARKER, 1]), JSON.stringify(toWire({ t: 'call', id: 1, path: 'echo', input: MARKER.repeat(500) }))]) {
      const peer = await raw(url, { headers: { cookie: `session=${MARKER}` } })
      const id = server.connections().at(-1)?.id as string
      peer.sendRaw(frame, false)
      await peer.closed
      await waitFor(closedLine(id))
    }
    const logged = JSON.stringify(lines, (_key, value: unknown) => (value instanceof Error ? { message: value.message, stack: value.stack } : value))
    expect(lines.length).toBeGreaterThan(10)
    expect(new Set(lines.map((line) => line.level))).toEqual(new Set(['debug', 'info', 'warn', 'error']))
    expect(logged).not.toContain(MARKER)
  })
})

describe('levels that are off cost nothing', () => {
  it('with every level off, no log method is called whatever happens', async () => {
    const called = vi.fn()
    const logger: Logger = { error: called, warn: called, info: called, debug: called, isLevelEnabled: () => false }
    const { server, url } = await start({ logger, limits: { maxPayload: 1024 }, heartbeatInterval: 100 })
    const peer = await raw(url)
    peer.sendRaw('not json', false)
    await peer.closed
    const big = await raw(url)
    big.sendRaw('x'.repeat(4096), false)
    await big.closed
    await expect(connectRaw(url, 'json', { protocols: ['nope'] })).rejects.toThrow(/400/)
    const caller = client(url)
    await expect(caller.fail('x')).rejects.toMatchObject({ code: 'INTERNAL' })
    await caller.close()
    await server.close()
    expect(called).not.toHaveBeenCalled()
  })

  it('`logger: false` is silent, and the default logs warnings and errors only, to the console', async () => {
    const consoleSpies = (['error', 'warn', 'info', 'debug', 'log'] as const).map((method) => vi.spyOn(console, method).mockImplementation(() => {}))
    const silent = await start({ logger: false })
    const quiet = await raw(silent.url)
    quiet.sendRaw('not json', false)
    await quiet.closed
    expect(consoleSpies.flatMap((spy) => spy.mock.calls)).toEqual([])
    const loud = await start({})
    const peer = await raw(loud.url)
    const id = onlyConnection(loud.server)
    peer.sendRaw('not json', false)
    await peer.closed
    await vi.waitFor(() => expect(consoleSpies[1]?.mock.calls).toEqual([['patchbay: Protocol violation, closing with 4400: frame is not valid JSON', { connectionId: id, code: 4400, reason: 'frame is not valid JSON' }]]))
    await loud.server.close()
    // The open and close lines (debug, info) did not reach the console.
    expect(consoleSpies.filter((_spy, index) => index !== 1).flatMap((spy) => spy.mock.calls)).toEqual([])
  })

  it('takes a pino logger as it is: JSON lines with pino levels, and its level decides', async () => {
    const written: Record<string, unknown>[] = []
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line !== '') written.push(JSON.parse(line) as Record<string, unknown>)
        done()
      },
    })
    const logger = pino({ level: 'info' }, destination)
    const { server, url } = await start({ logger })
    const peer = await raw(url)
    const id = onlyConnection(server)
    peer.sendRaw('not json', false)
    await peer.closed
    await vi.waitFor(() => expect(written.some((line) => line.msg === 'Connection closed with 4400')).toBe(true))
    expect(written.map(({ level, msg, connectionId }) => ({ level, msg, connectionId }))).toEqual([
      { level: 40, msg: 'Protocol violation, closing with 4400: frame is not valid JSON', connectionId: id },
      { level: 30, msg: 'Connection closed with 4400', connectionId: id },
    ])
    // Its level changed while running: the next connection's open (debug) is logged.
    logger.level = 'debug'
    await raw(url)
    await vi.waitFor(() => expect(written.some((line) => line.msg === 'Connection opened')).toBe(true))
  })
})
