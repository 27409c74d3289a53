/**
 * §2 Handshake and subprotocol negotiation, against a real server with a raw `ws` client.
 */
import { describe, expect, it } from 'vitest'
import type { Encoding } from '@patchbay/core'
import { ENCODINGS, GOOD_ORIGIN, JSON_PROTOCOL, MSGPACK_PROTOCOL, PROTOCOL, refusedUpgrade, useHarness } from './support.js'

describe.each<Encoding>(ENCODINGS)('§2 handshake and negotiation (%s)', (encoding) => {
  const h = useHarness(encoding)

  it('accepts its own subprotocol', async () => {
    const client = await h.open()
    expect(client.ws.protocol).toBe(PROTOCOL[encoding])
  })

  it('listen() accepts an upgrade on any path, query string included', async () => {
    // docs/protocol.md §2 "Which URL"
    for (const query of ['/', '/ws', '/a/b/c', '/ws/?tenant=x&y=1']) {
      const client = await h.open(h.main, { query })
      expect(client.ws.protocol).toBe(PROTOCOL[encoding])
      expect(await client.call(1, 'math.add', { a: 1, b: 2 })).toEqual({ t: 'result', id: 1, output: 3 })
    }
  })

  it('takes the first offered subprotocol it supports', async () => {
    const jsonFirst = await h.open(h.main, { protocols: [JSON_PROTOCOL, MSGPACK_PROTOCOL] })
    expect(jsonFirst.ws.protocol).toBe(JSON_PROTOCOL)
    const msgpackFirst = await h.open(h.main, { protocols: [MSGPACK_PROTOCOL, JSON_PROTOCOL] })
    expect(msgpackFirst.ws.protocol).toBe(MSGPACK_PROTOCOL)
    const unknownFirst = await h.open(h.main, { protocols: ['graphql-ws', PROTOCOL[encoding]] })
    expect(unknownFirst.ws.protocol).toBe(PROTOCOL[encoding])
  })

  it.each([
    ['no subprotocol', []],
    ['only graphql-ws', ['graphql-ws']],
    ['another version', ['patchbay.v2.json']],
  ])('refuses an offer of %s with 400 naming the supported subprotocols', async (_name, protocols) => {
    const { status, body } = await refusedUpgrade(h.main.url, protocols)
    expect(status).toBe(400)
    expect(body).toContain(JSON_PROTOCOL)
    expect(body).toContain(MSGPACK_PROTOCOL)
  })

  it('accepts a listed Origin and refuses another with 403', async () => {
    const good = await h.open(h.main, { headers: { Origin: GOOD_ORIGIN } })
    expect(good.ws.protocol).toBe(PROTOCOL[encoding])
    const bad = await refusedUpgrade(h.main.url, [PROTOCOL[encoding]], { Origin: 'https://evil.example' })
    expect(bad.status).toBe(403)
  })

  it.each([
    ['unauthorized', 401, /token expired/],
    ['forbidden', 403, /not on the list/],
  ])('a context hook throwing %s refuses with its status and message', async (auth, status, body) => {
    const refusal = await refusedUpgrade(`${h.main.url}/?auth=${auth}`, [PROTOCOL[encoding]])
    expect(refusal.status).toBe(status)
    expect(refusal.body).toMatch(body)
  })

  it('a context hook throwing a plain Error refuses with 500 and a generic body', async () => {
    const refusal = await refusedUpgrade(`${h.main.url}/?auth=crash`, [PROTOCOL[encoding]])
    expect(refusal.status).toBe(500)
    expect(refusal.body).not.toMatch(/secret|password/i)
  })

  it('a server limited to json accepts json and refuses a msgpack-only offer with 400', async () => {
    const jsonOnly = await h.start({ encodings: ['json'] })
    if (encoding === 'json') {
      const client = await h.open(jsonOnly)
      expect(client.ws.protocol).toBe(JSON_PROTOCOL)
    } else {
      const refusal = await refusedUpgrade(jsonOnly.url, [MSGPACK_PROTOCOL])
      expect(refusal.status).toBe(400)
      expect(refusal.body).toContain(JSON_PROTOCOL)
      expect(refusal.body).not.toContain(MSGPACK_PROTOCOL)
    }
    // Offered both, msgpack first: the server skips what it does not speak.
    const both = await h.open(jsonOnly, { protocols: [MSGPACK_PROTOCOL, JSON_PROTOCOL] })
    expect(both.ws.protocol).toBe(JSON_PROTOCOL)
  })
})
