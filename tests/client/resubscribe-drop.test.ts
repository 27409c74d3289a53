/**
 * A connection that drops while a `sub` waits for its answer (docs/protocol.md §10, §12.1): the
 * client asks again on the next connection instead of ending the subscription. Both the first
 * `sub` of a subscription and a resubscription after an earlier reconnect, on a real server on
 * 127.0.0.1 whose topic authorize is held open until the test lets it answer.
 */
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { CloseCode, router, topic, type Encoding, type PatchbayError } from '@patchbay/core'
import { createServer, type PatchbayServer } from '@patchbay/server'
import { createClient, type Client } from '@patchbay/client'
import { closeAfterEach } from '../support/teardown.js'
import { codec } from '../support/codecs.js'

const api = router({
  room: topic({ params: z.object({ room: z.string() }), message: z.string() }),
})

/** A promise and its resolve, to hold the server's authorize and to wait for events. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((done) => (resolve = done))
  return { promise, resolve }
}

let server: PatchbayServer | undefined
const clients = closeAfterEach<Client<typeof api>>(async () => {
  await server?.close()
  server = undefined
})

/** The server; while `gate` is set, authorize tells `entered` and waits for it. */
function start(encoding: Encoding) {
  const state = { gate: undefined as Promise<void> | undefined, entered: deferred(), authorized: 0 }
  server = createServer(api, {
    encodings: [encoding],
    handlers: {},
    topics: {
      room: {
        authorize: async () => {
          state.authorized++
          const gate = state.gate
          if (gate === undefined) return true
          state.entered.resolve()
          await gate
          return true
        },
      },
    },
  })
  return state
}

/** Drops every connection with a code the client reconnects after (1012, §8). */
function dropAll(): void {
  for (const connection of server?.connections() ?? []) server?.disconnect(connection.id, CloseCode.SERVICE_RESTART, 'test restart')
}

function connect(port: number, encoding: Encoding): Client<typeof api> {
  const client = createClient(api, {
    url: `ws://127.0.0.1:${port}`,
    WebSocket,
    encodings: [codec(encoding)],
    reconnect: { retryDelay: 10, maxRetryDelay: 50 },
  })
  clients.push(client)
  return client
}

describe.each<Encoding>(['json', 'msgpack'])('a sub in flight when the connection drops (%s)', (encoding) => {
  it('sends a resubscription again on the next connection, without ending the subscription', async () => {
    const state = start(encoding)
    const { port } = await (server as PatchbayServer).listen({ port: 0, host: '127.0.0.1' })
    const client = connect(port, encoding)
    const messages: string[] = []
    const ended: PatchbayError[] = []
    const live: boolean[] = []
    const off = client.room.subscribe({ room: 'a' }, (message) => messages.push(message), {
      onEnd: (error) => ended.push(error),
      onLive: (value) => live.push(value),
    })
    await off.ready
    // The next authorize (the resubscription after the drop below) waits for the gate.
    const gate = deferred()
    state.gate = gate.promise
    dropAll()
    await state.entered.promise
    // The resubscription is on the wire, unanswered: drop this connection too.
    state.gate = undefined
    const before = state.authorized
    dropAll()
    gate.resolve()
    // The third connection asks again, and is answered at once.
    await expect.poll(() => off.live, { timeout: 10_000 }).toBe(true)
    expect(state.authorized).toBeGreaterThan(before)
    expect(ended).toEqual([])
    expect(live.at(-1)).toBe(true)
    expect(server?.publish(api.room, { room: 'a' }, 'after')).toBe(1)
    await expect.poll(() => messages).toEqual(['after'])
    off()
  })

  it('sends a first sub again on the next connection: ready resolves there', async () => {
    const state = start(encoding)
    const { port } = await (server as PatchbayServer).listen({ port: 0, host: '127.0.0.1' })
    const gate = deferred()
    state.gate = gate.promise
    const client = connect(port, encoding)
    const messages: string[] = []
    const ended: PatchbayError[] = []
    const off = client.room.subscribe({ room: 'b' }, (message) => messages.push(message), { onEnd: (error) => ended.push(error) })
    let settled: string | undefined
    off.ready.then(
      () => (settled = 'resolved'),
      (error: PatchbayError) => (settled = `rejected ${error.code}`),
    )
    await state.entered.promise
    state.gate = undefined
    dropAll()
    gate.resolve()
    await expect.poll(() => settled, { timeout: 10_000 }).toBe('resolved')
    expect(ended).toEqual([])
    expect(off.live).toBe(true)
    expect(server?.publish(api.room, { room: 'b' }, 'hello')).toBe(1)
    await expect.poll(() => messages).toEqual(['hello'])
    off()
  })
})
