/**
 * What the client logs (docs/guide/logging.md), on real sockets: state changes, reconnects
 * with their delay and cause (a server process killed for real), the end of a client that
 * gave up, the violations it closes for, lag, and listeners' exceptions it drops; never the
 * token or an input; nothing with `logger: false`; errors and warnings to the console by default.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { pino } from 'pino'
import { Writable } from 'node:stream'
import { CloseCode, procedure, router, topic, type Logger } from '@patchbay/core'
import { createServer, type PatchbayServer } from '@patchbay/server'
import { ConnectionFailure, createClient, type Client, type ClientOptions } from '@patchbay/client'
import { startRawServer, type RawServer } from './raw-server.js'
import { cleanUp, makeClient, spawnFixture } from '../process/support.js'

const api = router({
  echo: procedure({ input: z.string(), output: z.string() }),
  feed: topic({ message: z.number() }),
})

type Level = 'error' | 'warn' | 'info' | 'debug'
interface Line {
  level: Level
  fields: Record<string, unknown>
  message: string
}

function recorder() {
  const lines: Line[] = []
  const at =
    (level: Level) =>
    (fields: Record<string, unknown>, message: string): void => {
      lines.push({ level, fields, message })
    }
  const logger: Logger = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') }
  return { logger, lines }
}

let raw: RawServer | undefined
const servers: PatchbayServer[] = []
const clients: Client<typeof api>[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()))
  await raw?.close()
  raw = undefined
  await Promise.all(servers.splice(0).map((server) => server.close()))
  await cleanUp()
  vi.restoreAllMocks()
})

function connect(url: string, options: Partial<ClientOptions> = {}): Client<typeof api> {
  const client = createClient(api, { url, WebSocket, encodings: ['json'], reconnect: false, ...options })
  clients.push(client)
  return client
}

async function serve(): Promise<string> {
  const server = createServer(api, { logger: false, handlers: { echo: ({ input }) => input } })
  servers.push(server)
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
  return `ws://127.0.0.1:${port}`
}

/** A raw server whose client subscribed to `feed` and was confirmed on channel 1 at seq 0. */
async function subscribed(logger: Logger | false | undefined, listeners: ((n: number) => void)[]) {
  raw = await startRawServer('json')
  const client = connect(raw.url, logger === undefined ? {} : { logger })
  const offs = listeners.map((listener) => client.feed.subscribe(listener))
  const socket = await raw.nextSocket()
  const sub = await raw.nextMessage(socket)
  raw.send(socket, { t: 'result', id: sub.id, output: { ch: 1, seq: 0, epoch: 'e.1' } })
  await Promise.all(offs.map((off) => off.ready))
  return { client, socket, server: raw }
}

describe('state changes and the end', () => {
  it('logs each state change at debug; a close by its user is no error', async () => {
    const { logger, lines } = recorder()
    const client = connect(await serve(), { logger, lazy: true })
    await client.connect()
    await client.close()
    expect(lines).toEqual([
      { level: 'debug', fields: { state: 'connecting' }, message: 'state connecting' },
      { level: 'debug', fields: { state: 'open' }, message: 'state open' },
      { level: 'debug', fields: { state: 'closing' }, message: 'state closing' },
      { level: 'debug', fields: { state: 'closed', code: 1000, reason: expect.any(String), err: expect.any(ConnectionFailure) }, message: 'state closed' },
    ])
  })

  it('a client that gives up (a refused handshake, no reconnect) logs an error with the failure', async () => {
    const { logger, lines } = recorder()
    raw = await startRawServer('json', () => false)
    const client = connect(raw.url, { logger })
    await expect(client.connect()).rejects.toMatchObject({ code: 'CONNECTION_FAILED' })
    const closed = lines.find((line) => line.fields.state === 'closed')
    expect(closed).toMatchObject({ level: 'error', message: 'state closed', fields: { code: CloseCode.SUBPROTOCOL_NOT_ACCEPTABLE, err: { kind: 'subprotocol' } } })
  })
})

describe('reconnects (a server process killed for real)', () => {
  it('logs each attempt at info with its delay and cause: the drop (1006), then nothing listening', async () => {
    const { logger, lines } = recorder()
    const fixture = spawnFixture('server', { PORT: 0 })
    const port = await fixture.port()
    const client = makeClient(`ws://127.0.0.1:${port}`, { logger, reconnect: { retries: 3, retryDelay: 20, maxRetryDelay: 40, stableAfter: 5_000 } })
    await client.connect()
    await fixture.killHard()
    await expect.poll(() => lines.filter((line) => line.fields.state === 'closed').length, { timeout: 10_000 }).toBe(1)
    const reconnects = lines.filter((line) => line.fields.state === 'reconnecting')
    expect(reconnects).toHaveLength(3)
    expect(reconnects[0]).toMatchObject({ level: 'info', message: 'state reconnecting', fields: { code: CloseCode.ABNORMAL, delayMs: expect.any(Number), err: { kind: 'closed' } } })
    for (const line of reconnects.slice(1)) expect(line).toMatchObject({ level: 'info', fields: { delayMs: expect.any(Number), err: { kind: 'refused', systemCode: 'ECONNREFUSED' } } })
    for (const line of reconnects) expect(line.fields.delayMs).toBeLessThanOrEqual(40)
    // Retries spent: the end is an error.
    expect(lines.find((line) => line.fields.state === 'closed')).toMatchObject({ level: 'error', fields: { err: { kind: 'refused' } } })
  })
})

describe('what the server broke', () => {
  it('an unknown frame: warn with the close code, 4400', async () => {
    const { logger, lines } = recorder()
    raw = await startRawServer('json')
    const client = connect(raw.url, { logger })
    await client.connect()
    const socket = await raw.nextSocket()
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
    // An integer tag that is no type of docs/protocol.md §3.
    raw.send(socket, [99, 1])
    expect(await closed).toBe(CloseCode.BAD_REQUEST)
    expect(lines.filter((line) => line.level === 'warn')).toEqual([
      { level: 'warn', fields: { code: CloseCode.BAD_REQUEST, reason: expect.stringContaining('unknown message type') }, message: 'protocol violation' },
    ])
  })

  it('a gap in a channel and a lag notice: info, naming the topic and what was missed', async () => {
    const { logger, lines } = recorder()
    const seen: number[] = []
    const { socket, server } = await subscribed(logger, [(n) => seen.push(n)])
    server.send(socket, { t: 'event', ch: 1, seq: 1, data: 1 })
    server.send(socket, { t: 'event', ch: 1, seq: 4, data: 4 })
    server.send(socket, { t: 'lag', ch: 1, seq: 9, missed: 5 })
    server.send(socket, { t: 'event', ch: 1, seq: 10, data: 10 })
    await expect.poll(() => seen).toEqual([1, 4, 10])
    expect(lines.filter((line) => line.level === 'info')).toEqual([
      { level: 'info', fields: { path: 'feed', missed: 2, seq: 3 }, message: 'Missed 2 messages of "feed"' },
      { level: 'info', fields: { path: 'feed', missed: 5, seq: 9 }, message: 'Missed 5 messages of "feed"' },
    ])
  })
})

describe("listeners' exceptions", () => {
  it('a topic listener that throws: logged as an error, dropped, and the next listener and message still arrive', async () => {
    const { logger, lines } = recorder()
    const boom = new Error('listener bug')
    const seen: number[] = []
    const { client, socket, server } = await subscribed(logger, [
      () => {
        throw boom
      },
      (n) => seen.push(n),
    ])
    server.send(socket, { t: 'event', ch: 1, seq: 1, data: 1 })
    server.send(socket, { t: 'event', ch: 1, seq: 2, data: 2 })
    await expect.poll(() => seen).toEqual([1, 2])
    expect(client.state).toBe('open')
    expect(lines.filter((line) => line.level === 'error')).toEqual([1, 2].map((seq) => ({ level: 'error', fields: { err: boom, path: 'feed', seq }, message: 'A listener of "feed" threw; the exception was dropped' })))
  })

  it('a state listener that throws: logged, and the client still reconnects', async () => {
    const { logger, lines } = recorder()
    raw = await startRawServer('json')
    const client = connect(raw.url, { logger, reconnect: { retryDelay: 10, maxRetryDelay: 20 } })
    client.on('state', () => {
      throw new Error('state listener bug')
    })
    await client.connect()
    ;(await raw.nextSocket()).terminate()
    await raw.nextSocket()
    await expect.poll(() => client.state).toBe('open')
    const errors = lines.filter((line) => line.level === 'error')
    expect(errors.map((line) => line.fields.state)).toEqual(expect.arrayContaining(['reconnecting', 'open']))
    expect(errors[0]).toMatchObject({ fields: { err: { message: 'state listener bug' } }, message: 'state listener threw' })
  })
})

describe('what is never logged', () => {
  it('neither the token nor an input, at any level', async () => {
    const MARKER = 'zebra-marker-7f3a'
    const { logger, lines } = recorder()
    const url = await serve()
    const client = connect(url, { logger, token: () => `${MARKER}-token`, reconnect: { retries: 1, retryDelay: 10, maxRetryDelay: 20 } })
    await expect(client.echo(`${MARKER}-input`)).resolves.toBe(`${MARKER}-input`)
    // A reconnect and the end, with the token function in play.
    await Promise.all(servers.splice(0).map((server) => server.close()))
    await expect.poll(() => client.state, { timeout: 10_000 }).toBe('closed')
    await expect(client.echo(`${MARKER}-input`)).rejects.toBeDefined()
    expect(new Set(lines.map((line) => line.level))).toEqual(new Set(['debug', 'info', 'error']))
    const logged = JSON.stringify(lines, (_key, value: unknown) => (value instanceof Error ? { ...value, message: value.message, stack: value.stack } : value))
    expect(logged).not.toContain(MARKER)
  })
})

describe('defaults', () => {
  it('`logger: false` logs nothing; the default prints errors and warnings to the console only', async () => {
    const spies = (['error', 'warn', 'info', 'debug', 'log'] as const).map((method) => vi.spyOn(console, method).mockImplementation(() => {}))
    const quiet = await subscribed(false, [
      () => {
        throw new Error('quiet')
      },
    ])
    quiet.server.send(quiet.socket, { t: 'event', ch: 1, seq: 1, data: 1 })
    quiet.server.send(quiet.socket, [99])
    await expect.poll(() => quiet.client.state).toBe('closed')
    expect(spies.flatMap((spy) => spy.mock.calls)).toEqual([])
    await raw?.close()
    const loud = await subscribed(undefined, [
      () => {
        throw new Error('loud')
      },
    ])
    loud.server.send(loud.socket, { t: 'event', ch: 1, seq: 2, data: 1 })
    loud.server.send(loud.socket, [99])
    await expect.poll(() => loud.client.state).toBe('closed')
    const [error, warn, ...others] = spies
    expect(error?.mock.calls.map((call) => call[0])).toEqual(['patchbay: A listener of "feed" threw; the exception was dropped', 'patchbay: state closed'])
    expect(warn?.mock.calls).toEqual([['patchbay: protocol violation', { code: 4400, reason: expect.any(String) }]])
    expect(others.flatMap((spy) => spy.mock.calls)).toEqual([])
  })

  it('takes a pino logger as it is', async () => {
    const written: Record<string, unknown>[] = []
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line !== '') written.push(JSON.parse(line) as Record<string, unknown>)
        done()
      },
    })
    const client = connect(await serve(), { logger: pino({ level: 'debug' }, destination) })
    await client.connect()
    await client.close()
    expect(written.map(({ level, msg, state }) => ({ level, msg, state }))).toEqual([
      { level: 20, msg: 'state open', state: 'open' },
      { level: 20, msg: 'state closing', state: 'closing' },
      { level: 20, msg: 'state closed', state: 'closed' },
    ])
  })
})
