/**
 * Reaching one connection from the server (docs/guide/connections.md): listing connections
 * with their context, publishing to one connection through a per-connection topic, and
 * closing one with a code and reason (docs/protocol.md §8), on real sockets with two clients,
 * the other unaffected.
 */
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { CloseCode, ErrorCode, PatchbayError, procedure, router, topic, type Encoding } from '@patchbay/core'
import { createServer, isDisconnectCode, type HandshakeInfo, type PatchbayServer, type SyncEngine } from '@patchbay/server'
import { createClient, type Client, type StateEvent } from '@patchbay/client'
import { closeAfterEach } from '../support/teardown.js'
import { deferred } from './fixtures.js'
import { codec } from '../support/codecs.js'

const api = router({
  whoami: procedure({ output: z.object({ id: z.string(), name: z.string() }) }),
  wait: procedure({ output: z.null() }),
  inbox: topic({ params: z.object({ kind: z.string() }), message: z.object({ text: z.string() }) }),
  news: topic({ message: z.object({ text: z.string() }) }),
})

interface Ctx {
  name: string
}

let server: PatchbayServer<SyncEngine, Ctx> | undefined
let waiting: { aborted: Promise<unknown>; arrived: () => void } | undefined
let closes: { id: string; name: string; code: number; reason: string }[] = []
/** Resolves at the first `onClose`: the server's registry has let that connection go by then. */
let closeSeen = deferred()
const clients = closeAfterEach<Client<typeof api>>(async () => {
  await server?.close()
  server = undefined
  closes = []
  closeSeen = deferred()
  waiting = undefined
})

async function start(): Promise<{ url: string; server: PatchbayServer<SyncEngine, Ctx> }> {
  const created = createServer(api, {
    context: ({ url }: HandshakeInfo): Ctx => ({ name: url.searchParams.get('name') ?? 'nobody' }),
    topics: { inbox: { scope: 'connection' } },
    handlers: {
      whoami: ({ ctx, connection }) => ({ id: connection.id, name: ctx.name }),
      wait: ({ signal }) =>
        new Promise<null>((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason as Error))
          waiting?.arrived()
        }),
    },
    onClose: ({ connection, ctx, code, reason }) => {
      closes.push({ id: connection.id, name: ctx.name, code, reason })
      closeSeen.resolve()
    },
  })
  server = created
  const { port } = await created.listen()
  return { url: `ws://127.0.0.1:${port}`, server: created }
}

function connect(url: string, name: string, encoding: Encoding, reconnect = false): Client<typeof api> {
  const client = createClient(api, {
    url: `${url}/?name=${name}`,
    WebSocket,
    encodings: [codec(encoding)],
    ...(reconnect ? { reconnect: { retries: 5, retryDelay: 10, maxRetryDelay: 20 } } : { reconnect: false }),
  })
  clients.push(client)
  return client
}

/** Resolves with the first state event `predicate` accepts. */
function stateWhere(client: Client<typeof api>, predicate: (event: StateEvent) => boolean): Promise<StateEvent> {
  return new Promise((resolve) => {
    const off = client.on('state', (event) => {
      if (predicate(event)) {
        off()
        resolve(event)
      }
    })
  })
}

describe.each<Encoding>(['json', 'msgpack'])('reaching one connection (%s)', (encoding) => {
  it('lists connections with id, ctx, encoding, remote address and opening time', async () => {
    const before = Date.now()
    const { url, server } = await start()
    const alice = connect(url, 'alice', encoding)
    const bob = connect(url, 'bob', encoding)
    const [a, b] = await Promise.all([alice.whoami(), bob.whoami()])
    const listed = server.connections()
    expect(listed).toHaveLength(2)
    expect(listed.map((c) => c.ctx.name).sort()).toEqual(['alice', 'bob'])
    const aliceEntry = server.connection(a.id)
    expect(aliceEntry).toMatchObject({ id: a.id, ctx: { name: 'alice' }, encoding, remoteAddress: '127.0.0.1' })
    expect(aliceEntry?.openedAt).toBeGreaterThanOrEqual(before)
    expect(aliceEntry?.openedAt).toBeLessThanOrEqual(Date.now())
    expect(server.connection(b.id)?.ctx.name).toBe('bob')
    expect(server.connection('no-such-id')).toBeUndefined()
    await alice.close()
    await closeSeen.promise
    expect(server.connections()[0]?.id).toBe(b.id)
  })

  it('publishes to one connection through a per-connection topic; the other subscriber hears nothing of it', async () => {
    const { url, server } = await start()
    const alice = connect(url, 'alice', encoding)
    const bob = connect(url, 'bob', encoding)
    const heard = { alice: [] as string[], bob: [] as string[] }
    const bobHeard = deferred()
    const aliceHeard = deferred()
    // Both subscribe to the same topic and params: each gets a channel of its own.
    await alice.inbox.subscribe({ kind: 'alerts' }, (m) => {
      heard.alice.push(m.text)
      aliceHeard.resolve()
    }).ready
    await bob.inbox.subscribe({ kind: 'alerts' }, (m) => {
      heard.bob.push(m.text)
      bobHeard.resolve()
    }).ready
    const [a, b] = await Promise.all([alice.whoami(), bob.whoami()])
    expect(server.publishTo(a.id, api.inbox, { kind: 'alerts' }, { text: 'for alice' })).toBe(1)
    expect(server.publishTo(b.id, api.inbox, { kind: 'alerts' }, { text: 'for bob' })).toBe(1)
    await bobHeard.promise
    // Had bob shared alice's channel, her message would have reached him first.
    expect(heard.bob).toEqual(['for bob'])
    await aliceHeard.promise
    expect(heard.alice).toEqual(['for alice'])
    // Other params, an unknown connection: nobody is subscribed there.
    expect(server.publishTo(a.id, api.inbox, { kind: 'other' }, { text: 'x' })).toBe(0)
    expect(server.publishTo('no-such-id', api.inbox, { kind: 'alerts' }, { text: 'x' })).toBe(0)
    expect(() => server.publishTo(a.id, api.inbox, { kind: 'alerts' }, { text: 5 } as never)).toThrow(PatchbayError)
    expect(() => server.publish(api.inbox, { kind: 'alerts' }, { text: 'all' })).toThrow(/per-connection topic; use publishTo/)
    expect(() => server.publishTo(a.id, api.news, undefined, { text: 'x' })).toThrow(/shared by its subscribers/)
    expect(server.topicStats.channels).toBe(2)
  })

  it('closes one connection with a code and reason: its calls are aborted, onClose runs, the other is unaffected', async () => {
    const { url, server } = await start()
    const alice = connect(url, 'alice', encoding)
    const bob = connect(url, 'bob', encoding)
    const bobNews: string[] = []
    const bobHeard = deferred()
    await bob.news.subscribe((m) => {
      bobNews.push(m.text)
      bobHeard.resolve()
    }).ready
    const [a, b] = await Promise.all([alice.whoami(), bob.whoami()])
    const arrived = deferred()
    waiting = { aborted: Promise.resolve(), arrived: arrived.resolve }
    const pending = alice.wait().then(
      () => undefined,
      (error: unknown) => error,
    )
    await arrived.promise
    const closed = stateWhere(alice, (event) => event.state === 'closed')
    expect(server.disconnect(a.id, CloseCode.FORBIDDEN, 'Banned by an admin')).toBe(true)
    // Listed no more at once, even before the closing handshake completes.
    expect(server.connections().map((c) => c.id)).toEqual([b.id])
    expect(await closed).toMatchObject({ state: 'closed', code: 4403, reason: 'Banned by an admin' })
    expect(((await pending) as PatchbayError).code).toBe(ErrorCode.CONNECTION_LOST)
    await closeSeen.promise
    expect(closes).toEqual([{ id: a.id, name: 'alice', code: 4403, reason: 'Banned by an admin' }])
    // Bob: his calls and his subscription go on.
    expect(await bob.whoami()).toEqual({ id: b.id, name: 'bob' })
    expect(server.publish(api.news, undefined, { text: 'still here' })).toBe(1)
    await bobHeard.promise
    expect(bobNews).toEqual(['still here'])
    expect(bob.state).toBe('open')
    expect(server.disconnect(a.id, CloseCode.FORBIDDEN, 'again')).toBe(false)
  })
})

describe('disconnect codes (docs/protocol.md §8)', () => {
  it('takes 1000, 1001, 1012, 4401, 4403 and application codes; refuses Patchbay\'s others and non-application codes', async () => {
    for (const code of [1000, 1001, 1012, 4401, 4403, 4000, 4321, 4399, 4600, 4999]) expect(isDisconnectCode(code), String(code)).toBe(true)
    for (const code of [999, 1002, 1003, 1006, 1009, 1011, 3000, 3999, 4400, 4404, 4409, 4429, 4507, 4599, 5000, 4000.5]) expect(isDisconnectCode(code), String(code)).toBe(false)
    const { url, server } = await start()
    const alice = connect(url, 'alice', 'json')
    const { id } = await alice.whoami()
    expect(() => server.disconnect(id, CloseCode.SLOW_CONSUMER, 'no')).toThrow(RangeError)
    expect(() => server.disconnect(id, 1006, 'no')).toThrow(RangeError)
    expect(server.connection(id)).toBeDefined()
    expect(alice.state).toBe('open')
  })

  it('an application code is retryable: Patchbay\'s client comes back as a new connection', async () => {
    const { url, server } = await start()
    const alice = connect(url, 'alice', 'json', true)
    const first = await alice.whoami()
    const back = stateWhere(alice, (event) => event.state === 'open')
    const reconnecting = stateWhere(alice, (event) => event.state === 'reconnecting')
    expect(server.disconnect(first.id, 4001, 'Moving you')).toBe(true)
    expect((await reconnecting).code).toBe(4001)
    await back
    const second = await alice.whoami()
    expect(second.id).not.toBe(first.id)
    expect(server.connections().map((c) => c.id)).toEqual([second.id])
  })
})

describe('per-connection topic options', () => {
  it('refuses client publishing and history for a per-connection topic', () => {
    const handlers = { whoami: () => ({ id: '', name: '' }), wait: () => null }
    const clientPublished = router({ ...api, inbox: topic({ message: z.string(), publish: 'client' }) })
    expect(() => createServer(clientPublished, { handlers, topics: { inbox: { scope: 'connection' } } })).toThrow(/published by the server only/)
    expect(() => createServer(api, { handlers, topics: { inbox: { scope: 'connection', history: 10 } } })).toThrow(/history must be 0/)
    expect(() => createServer(api, { handlers, topics: { inbox: { scope: 'room' as never } } })).toThrow(/scope must be/)
  })
})
