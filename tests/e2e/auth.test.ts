/**
 * Credentials (docs/protocol.md §2.1, §8): a token offered as a subprotocol, read by the
 * context hook and never echoed; expiry closing with 4401; a client with a token function
 * re-authenticating on a new connection and resuming its subscriptions; lazy connecting.
 */
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { CloseCode, ErrorCode, PatchbayError, authSubprotocol, procedure, router, tokenFromSubprotocols, topic } from '@patchbay/core'
import { createServer, type PatchbayServer } from '@patchbay/server'
import { createClient, type Client, type LagEvent, type StateEvent } from '@patchbay/client'
import { refusedUpgrade } from '../conformance/support.js'
import { closeAfterEach } from '../support/teardown.js'

const api = router({
  whoami: procedure({ output: z.object({ user: z.string(), protocol: z.string() }) }),
  news: topic({ message: z.object({ n: z.number() }) }),
})

/** Tokens are `<user>:<expiry ms from now>`; anything else is refused. */
function parseToken(token: string | undefined): { user: string; exp: number } {
  const match = /^([a-z]+):(\d+)$/.exec(token ?? '')
  if (match === null) throw new PatchbayError(ErrorCode.UNAUTHORIZED, 'Invalid or missing token')
  return { user: match[1] as string, exp: Date.now() + Number(match[2]) }
}

let server: PatchbayServer
const seenTokens: (string | undefined)[] = []
const clients = closeAfterEach<Client<typeof api>>(async () => {
  await server?.close()
  seenTokens.length = 0
})

async function start(): Promise<string> {
  server = createServer(api, {
    context: ({ token, subprotocol }) => {
      seenTokens.push(token)
      return { ...parseToken(token), protocol: subprotocol }
    },
    expiresAt: (ctx) => ctx.exp,
    topics: { news: { history: 50 } },
    handlers: { whoami: ({ ctx }) => ({ user: ctx.user, protocol: ctx.protocol }) },
  })
  const { port } = await server.listen()
  return `ws://127.0.0.1:${port}`
}

function client(url: string, token: ConstructorParameters<typeof Object>[0], extra: { lazy?: boolean } = {}): Client<typeof api> {
  const made = createClient(api, {
    url,
    WebSocket,
    encodings: ['json'],
    token: token as string | (() => string | Promise<string>),
    // A refused handshake looks like a network failure to a client (1006): with the default
    // (retry until close()) a refused token would be tried forever, so these give up.
    reconnect: { retries: 10, retryDelay: 20, maxRetryDelay: 50 },
    ...extra,
  })
  clients.push(made)
  return made
}

describe('tokens in the subprotocol list', () => {
  it('reach the context hook decoded; the server still selects a Patchbay subprotocol', async () => {
    const url = await start()
    const ada = client(url, 'ada:60000')
    expect(await ada.whoami()).toEqual({ user: 'ada', protocol: 'patchbay.v1.json' })
    expect(seenTokens).toEqual(['ada:60000'])
  })

  it('survive any characters: the subprotocol carries base64url', () => {
    for (const token of ['a.b.c', 'Bearer x y', 'ünïcödé 🔑', '=,;"', '']) {
      const carried = authSubprotocol(token)
      expect(carried).toMatch(/^patchbay\.auth\.[A-Za-z0-9_-]*$/)
      expect(tokenFromSubprotocols(['patchbay.v1.json', carried])).toBe(token)
    }
    expect(tokenFromSubprotocols(['patchbay.v1.json'])).toBeUndefined()
    expect(tokenFromSubprotocols(['patchbay.auth.!!'])).toBeUndefined()
  })

  it('a refused token gets 401 with the application message, and the token appears nowhere', async () => {
    const url = await start()
    const secret = 'hunter:abc'
    const refusal = await refusedUpgrade(url, ['patchbay.v1.json', authSubprotocol(secret)])
    expect(refusal).toEqual({ status: 401, body: 'Invalid or missing token' })
    const refused = client(url, secret)
    const states: StateEvent[] = []
    refused.on('state', (event) => states.push(event))
    const error = await refused.whoami().catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: ErrorCode.CONNECTION_FAILED })
    expect(JSON.stringify(states) + String((error as Error).message)).not.toContain('hunter')
    expect(JSON.stringify(states)).not.toContain(Buffer.from(secret).toString('base64url'))
  })
})

describe('expiry', () => {
  it('closes with 4401 when the credentials expire; a static token cannot renew, so the client stops', async () => {
    const url = await start()
    const short = client(url, 'ada:150')
    const states: StateEvent[] = []
    short.on('state', (event) => states.push(event))
    await short.connect()
    await expect.poll(() => short.state).toBe('closed')
    expect(states.at(-1)).toMatchObject({ state: 'closed', code: CloseCode.UNAUTHORIZED, reason: 'Credentials expired' })
    await expect(short.whoami()).rejects.toMatchObject({ code: ErrorCode.CONNECTION_FAILED })
  })

  it('a token function re-authenticates on a new connection and the subscription resumes without a gap', async () => {
    const url = await start()
    let issued = 0
    const renewing = client(url, async () => {
      issued++
      // The first token is short-lived; later ones last.
      return issued === 1 ? 'ada:200' : 'ada:60000'
    })
    const seen: number[] = []
    const lags: LagEvent[] = []
    const unsubscribe = renewing.news.subscribe((message) => seen.push(message.n), { onLag: (lag) => lags.push(lag) })
    await unsubscribe.ready
    const codes: number[] = []
    renewing.on('state', (event) => event.state === 'reconnecting' && codes.push(event.code ?? 0))
    server.publish(api.news, undefined, { n: 1 })
    await expect.poll(() => codes).toEqual([CloseCode.UNAUTHORIZED])
    // Published while the client was re-authenticating: replayed from the channel's history.
    server.publish(api.news, undefined, { n: 2 })
    server.publish(api.news, undefined, { n: 3 })
    await expect.poll(() => renewing.state).toBe('open')
    server.publish(api.news, undefined, { n: 4 })
    await expect.poll(() => seen).toEqual([1, 2, 3, 4])
    expect(lags).toEqual([])
    expect(issued).toBe(2)
    expect(await renewing.whoami()).toMatchObject({ user: 'ada' })
  })

  it('a token function that fails counts as a failed attempt and is retried', async () => {
    const url = await start()
    let calls = 0
    const flaky = client(url, () => {
      calls++
      if (calls < 3) throw new Error('token service down')
      return 'ada:60000'
    })
    expect(await flaky.whoami()).toMatchObject({ user: 'ada' })
    expect(calls).toBe(3)
  })
})

describe('lazy', () => {
  it('connects on first use, not before', async () => {
    const url = await start()
    const lazy = client(url, 'ada:60000', { lazy: true })
    expect(lazy.state).toBe('idle')
    // Nothing waits to be sent: drained() answers at once, without connecting.
    await lazy.drained()
    expect(lazy.state).toBe('idle')
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(server.connectionCount).toBe(0)
    expect(seenTokens).toEqual([])
    expect(await lazy.whoami()).toMatchObject({ user: 'ada' })
    expect(lazy.state).toBe('open')
    expect(server.connectionCount).toBe(1)
  })

  it('connect() starts it too, and close() before any use ends it without a socket', async () => {
    const url = await start()
    const lazy = client(url, 'ada:60000', { lazy: true })
    await lazy.connect()
    expect(server.connectionCount).toBe(1)
    const never = client(url, 'ada:60000', { lazy: true })
    await never.close()
    expect(never.state).toBe('closed')
    await expect(never.whoami()).rejects.toMatchObject({ code: ErrorCode.CONNECTION_FAILED })
    // Loops over a closed client fail at once rather than wait for a connection forever.
    await expect(never.news.iterate().next()).rejects.toMatchObject({ code: ErrorCode.CONNECTION_FAILED })
    expect(() => never.news.subscribe(() => {})).not.toThrow()
    await expect(never.news.subscribe(() => {}).ready).rejects.toMatchObject({ code: ErrorCode.CONNECTION_FAILED })
    expect(seenTokens).toHaveLength(1)
  })
})
