/**
 * How the Node client batches its writes (connection.ts, PIPELINE_FRAMES): the calls made in
 * one synchronous run go out coalesced, but never more than 16 frames to a write, so a
 * server starts on the first calls of a burst while the client is still making the rest.
 * Counted at the client's own net.Socket, against a real Patchbay server.
 */
import type { Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { procedure, router, type Encoding } from '@patchbay/core'
import { createClient, type Client } from '@patchbay/client'
import { createServer, type PatchbayServer } from '@patchbay/server'
import { closeAfterEach } from '../support/teardown.js'
import { codec } from '../support/codecs.js'

const api = router({ echo: procedure({ input: z.number(), output: z.number() }) })

type Writable = Socket & {
  _writev(chunks: unknown[], callback: (error?: Error | null) => void): void
  _write(chunk: unknown, encoding: string, callback: (error?: Error | null) => void): void
}

/** ws's WebSocket, recording how many writes its socket makes once counting starts. */
class CountingWebSocket extends WebSocket {
  static last: CountingWebSocket | undefined
  writes = 0

  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args)
    CountingWebSocket.last = this
  }

  /** Counts every `_writev` and `_write` of the underlying socket from now on. */
  count(): void {
    const socket = (this as unknown as { _socket: Writable })._socket
    const writev = socket._writev.bind(socket)
    const write = socket._write.bind(socket)
    socket._writev = (chunks, callback) => {
      this.writes++
      writev(chunks, callback)
    }
    socket._write = (chunk, encoding, callback) => {
      this.writes++
      write(chunk, encoding, callback)
    }
  }
}

let server: PatchbayServer | undefined
const clients = closeAfterEach<Client<typeof api>>(async () => {
  await server?.close()
  server = undefined
})

async function connect(encoding: Encoding): Promise<{ client: Client<typeof api>; socket: CountingWebSocket }> {
  server = createServer(api, { handlers: { echo: ({ input }) => input } })
  const { port } = await server.listen({ port: 0 })
  const client = createClient(api, { url: `ws://127.0.0.1:${port}`, WebSocket: CountingWebSocket, encodings: [codec(encoding)], reconnect: false })
  clients.push(client)
  await client.connect()
  const socket = CountingWebSocket.last as CountingWebSocket
  socket.count()
  return { client, socket }
}

describe.each<Encoding>(['json', 'msgpack'])('client write batching over %s', (encoding) => {
  it('sends a burst of 40 calls made in one run as 3 writes of at most 16 frames', async () => {
    const { client, socket } = await connect(encoding)
    const calls = Array.from({ length: 40 }, (_, i) => client.echo(i))
    const answers = await Promise.all(calls)
    expect(answers).toEqual(Array.from({ length: 40 }, (_, i) => i))
    expect(socket.writes).toBe(3)
  })

  it('still sends a small burst as one write', async () => {
    const { client, socket } = await connect(encoding)
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => client.echo(i * 2)))
    expect(answers).toEqual(Array.from({ length: 10 }, (_, i) => i * 2))
    expect(socket.writes).toBe(1)
  })

  it('sends calls made in separate runs separately', async () => {
    const { client, socket } = await connect(encoding)
    for (let i = 0; i < 3; i++) expect(await client.echo(i)).toBe(i)
    expect(socket.writes).toBe(3)
  })
})
