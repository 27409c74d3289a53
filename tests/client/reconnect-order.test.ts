/**
 * After a reconnect, subscriptions are restored (sent and confirmed) before the requests
 * queued while away go out (docs/protocol.md §10, §12.1; docs/guide/lifecycle.md): a message
 * a client sends while the server is down reaches the client's own subscription when the
 * server is back. A real server, stopped and started again on the same port.
 */
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { procedure, router, topic, type Encoding } from '@patchbay/core'
import { createServer, type PatchbayServer } from '@patchbay/server'
import { createClient, type Client, type LagEvent } from '@patchbay/client'
import { closeAfterEach } from '../support/teardown.js'
import { codec } from '../support/codecs.js'

const api = router({
  say: procedure({ input: z.string(), output: z.null() }),
  echo: procedure({ input: z.string(), output: z.string() }),
  room: topic({ message: z.string(), publish: 'client' }),
})

let server: PatchbayServer | undefined
const clients = closeAfterEach<Client<typeof api>>(async () => {
  await server?.close()
  server = undefined
})

/** Starts the server; `slowAuthorize` makes every `sub` wait for a slow authorization. */
async function serve(port: number, slowAuthorize = false): Promise<number> {
  const started = createServer(api, {
    closeTimeout: 50,
    topics: slowAuthorize ? { room: { authorize: () => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 100)) } } : {},
    handlers: {
      say: ({ input }) => {
        started.publish(api.room, undefined, input)
        return null
      },
      echo: ({ input }) => input,
    },
  })
  server = started
  return (await started.listen({ port, host: '127.0.0.1' })).port
}

function waitForState(client: Client<typeof api>, wanted: string): Promise<void> {
  return new Promise((resolve) => {
    const off = client.on('state', ({ state }) => {
      if (state === wanted) {
        off()
        resolve()
      }
    })
  })
}

/** Subscribes, restarts the server with `send` made while it is down, and returns what was heard. */
async function restartWith(encoding: Encoding, send: (client: Client<typeof api>) => Promise<unknown>, slowAuthorize = false) {
  const port = await serve(0, slowAuthorize)
  const client = createClient(api, { url: `ws://127.0.0.1:${port}`, WebSocket, encodings: [codec(encoding)], reconnect: { retryDelay: 10, maxRetryDelay: 50 } })
  clients.push(client)
  const heard: string[] = []
  const lags: LagEvent[] = []
  await client.room.subscribe((message) => heard.push(message), { onLag: (lag) => lags.push(lag) }).ready
  const reconnecting = waitForState(client, 'reconnecting')
  await server?.close()
  await reconnecting
  // Made while the server is down: it waits in the queue.
  const sent = send(client)
  await serve(port, slowAuthorize)
  await sent
  return { heard, lags }
}

describe.each<Encoding>(['json', 'msgpack'])('reconnect order over %s', (encoding) => {
  it('a call queued while away that publishes to our own topic: we hear it, with no lag', async () => {
    const { heard, lags } = await restartWith(encoding, (client) => client.say('sent while the server was down'))
    // The event is written before the call's result on the same socket (§10), so it has
    // arrived by the time the call resolved.
    expect(heard).toEqual(['sent while the server was down'])
    expect(lags).toEqual([])
  })

  it('a client publish queued while away reaches our own subscription', async () => {
    const { heard } = await restartWith(encoding, (client) => client.room.publish('published while away'))
    // Delivered to this connection before the pub's result (§13).
    expect(heard).toEqual(['published while away'])
  })

  it('waits for the confirmation, not only the send: a slow async authorize still comes first', async () => {
    const { heard, lags } = await restartWith(encoding, (client) => client.say('after a slow authorize'), true)
    expect(heard).toEqual(['after a slow authorize'])
    expect(lags).toEqual([])
  })
})

describe('the queue is held only while subscriptions are restored', () => {
  it('a refused resubscription releases the queue too', async () => {
    const port = await serve(0)
    const client = createClient(api, { url: `ws://127.0.0.1:${port}`, WebSocket, reconnect: { retryDelay: 10, maxRetryDelay: 50 } })
    clients.push(client)
    await client.room.subscribe(() => {}).ready
    const reconnecting = waitForState(client, 'reconnecting')
    await server?.close()
    await reconnecting
    const queued = client.echo('still goes out')
    // The new server refuses the topic: the resubscription fails, the call goes out anyway.
    const refusing = createServer(api, {
      closeTimeout: 50,
      topics: { room: { authorize: () => false } },
      handlers: { say: () => null, echo: ({ input }) => input },
    })
    server = refusing
    await refusing.listen({ port, host: '127.0.0.1' })
    await expect(queued).resolves.toBe('still goes out')
  })
})
