/**
 * The server logs a handler's unexpected exception (the client sees only INTERNAL) through
 * its `logger` option, pino's shape, by default to the console; a PatchbayError is an answer
 * and is not logged; `logger: false` is silent (docs/guide/errors.md).
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { PatchbayError, procedure, router, topic } from '@patchbay/core'
import { createServer, type Logger, type PatchbayServer, type ServerOptions } from '@patchbay/server'
import { createClient, type Client } from '@patchbay/client'
import { codec } from '../support/codecs.js'

const api = router({
  fail: procedure({ input: z.string(), output: z.string() }),
  refuse: procedure({ input: z.string(), output: z.string() }),
  news: topic({ message: z.string() }),
})

interface Entry {
  level: keyof Logger
  fields: Record<string, unknown>
  message: string
}

/** A pino-shaped logger that records every call. */
function recorder(): { logger: Logger; entries: Entry[] } {
  const entries: Entry[] = []
  const at =
    (level: keyof Logger) =>
    (fields: Record<string, unknown>, message: string): void => {
      entries.push({ level, fields, message })
    }
  return { logger: { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') }, entries }
}

const opened: { server: PatchbayServer; client: Client<typeof api> }[] = []
afterEach(async () => {
  for (const { server, client } of opened.splice(0)) {
    await client.close()
    await server.close()
  }
  vi.restoreAllMocks()
})

const boom = new TypeError('boom at the database')

async function start(options: Partial<ServerOptions<typeof api, unknown>>, token?: string): Promise<{ client: Client<typeof api>; url: string }> {
  const server = createServer(api, {
    handlers: {
      fail: () => {
        throw boom
      },
      refuse: () => {
        throw new PatchbayError('OUT_OF_STOCK', 'No lamps left')
      },
    },
    ...options,
  } as ServerOptions<typeof api, unknown>)
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
  const client = createClient(api, { url: `ws://127.0.0.1:${port}`, WebSocket, reconnect: false, ...(token === undefined ? {} : { token }) })
  opened.push({ server, client })
  return { client, url: `ws://127.0.0.1:${port}` }
}

describe('server logger', () => {
  it("logs a handler's unexpected exception once, with its path and error, never its input", async () => {
    const { logger, entries } = recorder()
    const onError = vi.fn()
    const { client } = await start({ logger, onError })
    await expect(client.fail('secret-input-7')).rejects.toMatchObject({ code: 'INTERNAL', message: 'Internal server error' })
    const errors = entries.filter((entry) => entry.level === 'error')
    expect(errors).toHaveLength(1)
    const [entry] = errors
    expect(entry?.level).toBe('error')
    expect(entry?.fields).toEqual({ err: boom, path: 'fail', connectionId: expect.any(String) })
    expect(entry?.message).toContain('"fail"')
    expect(JSON.stringify(entries)).not.toContain('secret-input-7')
    // The application's own hook still hears it.
    expect(onError).toHaveBeenCalledOnce()
  })

  it('does not log a PatchbayError a handler throws (an answer, not a failure)', async () => {
    const { logger, entries } = recorder()
    const { client } = await start({ logger })
    await expect(client.refuse('x')).rejects.toMatchObject({ code: 'OUT_OF_STOCK' })
    // A failing one after it proves the logger was listening.
    await expect(client.fail('x')).rejects.toMatchObject({ code: 'INTERNAL' })
    expect(entries.filter((entry) => entry.level === 'error').map((entry) => entry.fields.path)).toEqual(['fail'])
  })

  it('logs a throwing topic authorize hook the same way', async () => {
    const { logger, entries } = recorder()
    const { client } = await start({
      logger,
      topics: {
        news: {
          authorize: () => {
            throw boom
          },
        },
      },
    })
    await expect(client.news.subscribe(() => {}).ready).rejects.toMatchObject({ code: 'INTERNAL' })
    expect(entries.filter((entry) => entry.level === 'error')).toEqual([{ level: 'error', fields: { err: boom, path: 'news', connectionId: expect.any(String) }, message: expect.any(String) }])
  })

  it('by default, logs to the console (stderr): the message and the error with its stack', async () => {
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {})
    const { client } = await start({})
    await expect(client.fail('x')).rejects.toMatchObject({ code: 'INTERNAL' })
    expect(consoleError).toHaveBeenCalledOnce()
    const [message, fields, error] = consoleError.mock.calls[0] ?? []
    expect(message).toMatch(/^patchbay: Unexpected error in "fail"/)
    expect(fields).toEqual({ path: 'fail', connectionId: expect.any(String) })
    expect(error).toBe(boom)
  })

  it('`logger: false` silences it', async () => {
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {})
    const consoleWarn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const { client } = await start({ logger: false })
    await expect(client.fail('x')).rejects.toMatchObject({ code: 'INTERNAL' })
    expect(consoleError).not.toHaveBeenCalled()
    expect(consoleWarn).not.toHaveBeenCalled()
  })

  it('a context hook that throws: logged as an error, never the token; a refusal it means is logged at info', async () => {
    const { logger, entries } = recorder()
    let refuse = false
    const { client, url } = await start(
      {
        logger,
        context: () => {
          if (refuse) throw new PatchbayError('UNAUTHORIZED', 'Sign in again')
          throw boom
        },
      },
      'token-never-logged',
    )
    await expect(client.connect()).rejects.toMatchObject({ code: 'CONNECTION_FAILED', cause: { status: 500 } })
    expect(entries.filter((entry) => entry.level === 'error')).toEqual([{ level: 'error', fields: { err: boom }, message: expect.stringContaining('context hook') }])
    refuse = true
    const second = createClient(api, { url, WebSocket, reconnect: false, token: 'token-never-logged' })
    await expect(second.connect()).rejects.toMatchObject({ cause: { status: 401 } })
    await second.close()
    // A browser sees only 1006: the server's log says why (docs/guide/errors.md).
    // The connection lines (docs/guide/logging.md) are left out here: refusals have no connection.
    expect(entries.filter((entry) => entry.level !== 'debug' && entry.fields.connectionId === undefined).slice(1)).toEqual([
      { level: 'info', fields: { status: 401, reason: 'Sign in again', remoteAddress: '127.0.0.1' }, message: 'Refused a WebSocket upgrade with HTTP 401: Sign in again' },
    ])
    expect(entries.filter((entry) => entry.level === 'error')).toHaveLength(1)
    expect(JSON.stringify(entries)).not.toContain('token-never-logged')
  })

  it('a refusal that says the deployment is wrong (no shared subprotocol, a foreign Origin) is a warning', async () => {
    const { logger, entries } = recorder()
    const { url } = await start({ logger, encodings: ['json'], origins: ['https://app.example'] })
    const client = createClient(api, { url, WebSocket, encodings: [codec('msgpack')], reconnect: false })
    await expect(client.connect()).rejects.toMatchObject({ cause: { kind: 'subprotocol' } })
    await client.close()
    /** A page of another site: `ws` sends the Origin a browser would. */
    class Foreign extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { origin: 'https://evil.example' })
      }
    }
    const foreign = createClient(api, { url, WebSocket: Foreign, encodings: ['json'], reconnect: false })
    await expect(foreign.connect()).rejects.toMatchObject({ cause: { kind: 'http', status: 403 } })
    await foreign.close()
    // The connection lines of `start`'s own client aside: refusals have no connection.
    expect(entries.filter((entry) => entry.fields.connectionId === undefined)).toEqual([
      {
        level: 'warn',
        fields: { status: 400, reason: 'No supported WebSocket subprotocol; offer one of: patchbay.v1.json', remoteAddress: '127.0.0.1' },
        message: expect.stringContaining('HTTP 400'),
      },
      { level: 'warn', fields: { status: 403, reason: 'Origin not allowed', remoteAddress: '127.0.0.1' }, message: expect.stringContaining('HTTP 403') },
    ])
  })
})
