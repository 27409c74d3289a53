/**
 * docs/protocol.md §9 "One outcome in both encodings", the client's side: what a client sends
 * must be plain data too. Before this check a JSON client quietly sent a Date as a string, NaN
 * as null and a Map as {}, while a msgpack client sent extensions the server refused; now both
 * fail the request locally with BAD_REQUEST and send nothing. Real server, real client.
 */
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { ErrorCode, PatchbayError, procedure, router, topic, type Encoding } from '@patchbay/core'
import { createClient, type Client } from '@patchbay/client'
import { createServer, type PatchbayServer } from '@patchbay/server'
import { codec } from '../support/codecs.js'

const api = router({
  echo: procedure({ input: z.unknown(), output: z.unknown() }),
  notes: topic({ params: z.object({ room: z.unknown() }), message: z.unknown(), publish: 'client' }),
})

let server: PatchbayServer | undefined
let client: Client<typeof api> | undefined
afterEach(async () => {
  client?.close()
  client = undefined
  await server?.close()
  server = undefined
})

async function start(encoding: Encoding): Promise<{ client: Client<typeof api>; received: unknown[] }> {
  const received: unknown[] = []
  server = createServer(api, {
    handlers: {
      echo: ({ input }) => {
        received.push(input)
        return input
      },
    },
  })
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
  client = createClient(api, { url: `ws://127.0.0.1:${port}`, WebSocket, encodings: [codec(encoding)], reconnect: false })
  await client.connect()
  return { client, received }
}

async function refusal(promise: Promise<unknown>): Promise<PatchbayError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(PatchbayError)
  return error as PatchbayError
}

function nested(depth: number): unknown {
  let value: unknown = 0
  for (let i = 0; i < depth; i++) value = [value]
  return value
}

const cycle: Record<string, unknown> = {}
cycle.self = cycle

const notPlain: [string, unknown, RegExp][] = [
  ['a Date', { at: new Date(0) }, /Date/],
  ['a Map', new Map([['a', 1]]), /Map/],
  ['a Set inside an array', [new Set([1])], /Set/],
  ['NaN', { n: Number.NaN }, /non-finite/],
  ['Infinity', [Number.POSITIVE_INFINITY], /non-finite/],
  ['a BigInt', { n: 1n }, /bigint/],
  ['a class instance', new (class Point {
    x = 1
  })(), /Point/],
  ['a function', { f: () => 1 }, /function/],
  ['a cycle', cycle, /nesting deeper than 64/],
  ['nesting past maxDepth (64, envelope included)', nested(64), /nesting deeper than 64/],
]

describe.each<Encoding>(['json', 'msgpack'])('the client sends plain data only (%s)', (encoding) => {
  it.each(notPlain)('a call whose input holds %s fails with BAD_REQUEST and is never sent', async (_name, input, problem) => {
    const { client, received } = await start(encoding)
    const error = await refusal(client.echo(input))
    expect(error.code).toBe(ErrorCode.BAD_REQUEST)
    expect(error.message).toMatch(problem)
    // Nothing reached the server, and the connection goes on serving.
    await expect(client.echo({ ok: [1, 'two', null, true] })).resolves.toEqual({ ok: [1, 'two', null, true] })
    expect(received).toEqual([{ ok: [1, 'two', null, true] }])
    expect(server?.stats.violations).toBe(0)
  })

  it('the deepest input allowed (63 levels under the envelope) is sent and comes back', async () => {
    const { client } = await start(encoding)
    await expect(client.echo(nested(63))).resolves.toEqual(nested(63))
  })

  it('a publish or a subscription whose data or params are not plain data fails the same way', async () => {
    const { client } = await start(encoding)
    const published = await refusal(client.notes.publish({ room: 'a' }, { at: new Date(0) }))
    expect(published.code).toBe(ErrorCode.BAD_REQUEST)
    const subscription = client.notes.subscribe({ room: new Map() }, () => {})
    const subscribed = await refusal(subscription.ready)
    expect(subscribed.code).toBe(ErrorCode.BAD_REQUEST)
    await expect(client.notes.publish({ room: 'a' }, { text: 'plain' })).resolves.toEqual({ delivered: 0 })
  })
})
