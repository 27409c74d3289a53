// testing-pair.ts: the real client and the real sessions, connected in memory, once per encoding
import { afterAll, describe, expect, it } from 'vitest'
import { CloseCode } from '@patchbay/core'
import { createTestPair } from '@patchbay/server/testing'
import { api, makeServer } from './testing-app.js'

describe.each(['json', 'msgpack'] as const)('chat over %s', (encoding) => {
  const server = makeServer()
  afterAll(() => server.close())

  it('delivers to subscribers and resubscribes after a dropped connection', async () => {
    const { client, connection, network } = await createTestPair(server, {
      encoding,
      ctx: { user: { name: 'ann' } },
      client: { reconnect: { retryDelay: 10 } },
    })
    const texts: string[] = []
    const unsubscribe = client.chat.subscribe({ room: 'a' }, (message) => texts.push(message.text))
    await unsubscribe.ready
    server.publish(api.chat, { room: 'a' }, { text: 'hi' })
    await expect.poll(() => texts).toEqual(['hi'])

    const next = network.nextConnection()
    connection.drop() // as a lost network: the client sees 1006 and reconnects
    expect((await connection.closed).code).toBe(CloseCode.ABNORMAL)
    await next
    await expect.poll(() => server.topicStats.subscriptions).toBe(1)
    server.publish(api.chat, { room: 'a' }, { text: 'back' })
    await expect.poll(() => texts).toEqual(['hi', 'back'])
    await client.close()
  })

  it('closes a reader that stalls with 4507 once the server buffered maxBuffered', async () => {
    const { client, connection } = await createTestPair(server, { encoding, ctx: { user: null }, client: { reconnect: false } })
    await client.chat.subscribe({ room: 'big' }, () => {}).ready
    connection.stall() // the client stops reading; the server's buffer grows
    for (let n = 0; n < 2_000 && connection.state === 'open'; n++) {
      server.publish(api.chat, { room: 'big' }, { text: 'x'.repeat(16_384) })
      await new Promise((resolve) => setImmediate(resolve))
    }
    connection.resume()
    expect((await connection.closed).code).toBe(CloseCode.SLOW_CONSUMER)
  })
})
