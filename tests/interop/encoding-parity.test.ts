/**
 * docs/protocol.md §9 "One outcome in both encodings": every row of the table, in JSON and in
 * MessagePack, against a real server with raw clients; and the §6 statements on what the
 * server does with values that do not encode. After every case the connection either serves
 * the next call or closed as the row says.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { Packr, unpack } from 'msgpackr'
import { ErrorCode, sendableError, validate, type Encoding } from '@patchbay/core'
import { connectRaw, type RawClient } from '../conformance/support.js'
import { toWire } from '../support/wire.js'
import { AnyKeyMap, Raw, i64, mp, u64, startInteropServer, type InteropServer } from './support.js'

let srv: InteropServer
const sockets: RawClient[] = []
beforeAll(async () => {
  srv = await startInteropServer()
})
afterAll(async () => {
  for (const socket of sockets) socket.ws.terminate()
  await srv.close()
})

async function open(encoding: Encoding): Promise<RawClient> {
  const client = await connectRaw(srv.url, encoding)
  sockets.push(client)
  return client
}

/** Sends a request written by hand: JSON text as given, or msgpack from {@link mp}'s model of a message object (§3's array, tests/support/wire.ts). */
function sendBoth(client: RawClient, json: string, msgpack: unknown): void {
  if (client.encoding === 'json') client.sendRaw(json, false)
  else client.sendRaw(mp(toWire(msgpack)), true)
}

async function served(client: RawClient, id = 999): Promise<void> {
  expect(await client.call(id, 'math.add', { a: 1, b: 2 })).toEqual({ t: 'result', id, output: 3 })
}

const badRequest = (id: number, message?: RegExp): unknown => ({
  t: 'error',
  id,
  error: { code: 'BAD_REQUEST', message: message === undefined ? expect.any(String) : expect.stringMatching(message) },
})

function nestedText(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth)
}

describe.each<Encoding>(['json', 'msgpack'])('§9 one outcome in both encodings (%s)', (encoding) => {
  it('an integer within ±(2^53 - 1) is a number', async () => {
    const client = await open(encoding)
    sendBoth(client, '[1,1,"echo",null,[9007199254740991,-9007199254740991,4294967296]]', {
      t: 'call',
      id: 1,
      path: 'echo',
      input: [u64(2n ** 53n - 1n), i64(-(2n ** 53n - 1n)), u64(2 ** 32)],
    })
    expect(await client.next()).toEqual({ t: 'result', id: 1, output: [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 32] })
    await served(client)
  })

  it('an integer beyond 2^53: JSON rounds it to a double, msgpack refuses it with BAD_REQUEST', async () => {
    const client = await open(encoding)
    sendBoth(client, '[1,1,"echo",null,9007199254740993]', { t: 'call', id: 1, path: 'echo', input: u64(2n ** 53n + 1n) })
    if (encoding === 'json') expect(await client.next()).toEqual({ t: 'result', id: 1, output: 2 ** 53 })
    else expect(await client.next()).toEqual(badRequest(1, /bigint/))
    await served(client)
  })

  it('an id beyond 2^53 - 1 closes 4400', async () => {
    const client = await open(encoding)
    sendBoth(client, '[1,9007199254740993,"math.add",null,{"a":1,"b":2}]', {
      t: 'call',
      id: u64(2n ** 53n + 1n),
      path: 'math.add',
      input: { a: 1, b: 2 },
    })
    await client.expectClose(4400)
  })

  it.each([
    ['NaN', Number.NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
  ])('%s in an input is BAD_REQUEST (JSON: a literal too large for a double)', async (name, value) => {
    const client = await open(encoding)
    const literal = name === 'NaN' ? '1e400' : name === 'Infinity' ? '1e400' : '-1e400'
    sendBoth(client, `[1,1,"math.add",null,{"a":${literal},"b":2}]`, { t: 'call', id: 1, path: 'math.add', input: { a: value, b: 2 } })
    expect(await client.next()).toEqual(badRequest(1, /input refused: non-finite number/))
    await served(client)
  })

  it('-0 is accepted and comes back as 0', async () => {
    const client = await open(encoding)
    sendBoth(client, '[1,1,"echo",null,[-0]]', { t: 'call', id: 1, path: 'echo', input: [-0] })
    const answer = (await client.next()) as { output: number[] }
    expect(Object.is(answer.output[0], 0)).toBe(true)
  })

  it('undefined from a peer is an absent value; undefined the server sends is left out, or null in an array', async () => {
    const client = await open(encoding)
    // JSON cannot write undefined: the same logical input has the key absent and null in the array.
    sendBoth(client, '[1,1,"echo",null,{"keep":1,"list":[null,2]}]', {
      t: 'call',
      id: 1,
      path: 'echo',
      input: { keep: 1, gone: new Raw([0xd4, 0x00, 0x00]), list: [new Raw([0xd4, 0x00, 0x00]), 2] },
    })
    expect(await client.next()).toEqual({ t: 'result', id: 1, output: { keep: 1, list: [null, 2] } })
    srv.values.set(1, { keep: 1, gone: undefined, list: [undefined, 2], nested: { gone: undefined } })
    const sent = await client.call(2, 'give', { key: 1 })
    expect(sent).toEqual({ t: 'result', id: 2, output: { keep: 1, list: [null, 2], nested: {} } })
    expect(Object.keys(sent.output as object)).toEqual(['keep', 'list', 'nested'])
    const bytes = client.receivedBytes.at(-1) as Buffer
    // Never msgpackr's undefined extension, which other implementations cannot read.
    expect(bytes.includes(Buffer.from([0xd4, 0x00, 0x00]))).toBe(false)
    if (encoding === 'msgpack') expect(unpack(bytes)).toEqual([2, 2, { keep: 1, list: [null, 2], nested: {} }])
  })

  it.each(['__proto__', '__proto_'])('a %s key is BAD_REQUEST', async (key) => {
    const client = await open(encoding)
    sendBoth(client, `[1,1,"echo",null,{"a":{"${key}":{"polluted":1}}}]`, {
      t: 'call',
      id: 1,
      path: 'echo',
      input: { a: new AnyKeyMap([[key, { polluted: 1 }]]) },
    })
    expect(await client.next()).toEqual(badRequest(1, /input refused: forbidden key "__proto__?"/))
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    await served(client)
  })

  it('a map key that is a number, boolean or nil is read as its string form', async () => {
    const client = await open(encoding)
    sendBoth(client, '[1,1,"echo",null,{"1":"one","true":"yes","null":"none"}]', {
      t: 'call',
      id: 1,
      path: 'echo',
      input: new AnyKeyMap([
        [1, 'one'],
        [true, 'yes'],
        [null, 'none'],
      ]),
    })
    expect(await client.next()).toEqual({ t: 'result', id: 1, output: { 1: 'one', true: 'yes', null: 'none' } })
  })

  it('a map key that is bytes, an array or a map: BAD_REQUEST for the id (msgpack only; JSON keys are strings)', async () => {
    if (encoding === 'json') return
    const client = await open(encoding)
    for (const [id, key] of [
      [1, new Uint8Array([1, 2])],
      [2, [1]],
      [3, { a: 1 }],
    ] as const) {
      client.sendRaw(mp([1, id, 'echo', null, new AnyKeyMap([[key, 'x']])]), true)
      expect(await client.next()).toEqual(badRequest(id, /message refused/))
    }
    // The id of such a frame is read as every id is (§4.1): a uint64 id is an ordinary number.
    client.sendRaw(mp([1, u64(4), 'echo', null, new AnyKeyMap([[new Uint8Array([1]), 'x']])]), true)
    expect(await client.next()).toEqual(badRequest(4, /message refused/))
    // Not a request (nobody to answer): close 4400.
    client.sendRaw(mp([4, 1, new AnyKeyMap([[new Uint8Array([1]), 'x']])]), true)
    await client.expectClose(4400)
  })

  it('invalid UTF-8: JSON closes 1007 (ws), msgpack reads U+FFFD and answers', async () => {
    const client = await open(encoding)
    const invalid = [0x61, 0xff, 0xfe, 0x62]
    if (encoding === 'json') {
      const text = Buffer.concat([Buffer.from('[1,1,"echo",null,"'), Buffer.from(invalid), Buffer.from('"]')])
      client.sendRaw(text, false)
      await client.expectClose(1007)
    } else {
      client.sendRaw(mp([1, 1, 'echo', null, new Raw([0xa0 | invalid.length, ...invalid])]), true)
      expect(await client.next()).toEqual({ t: 'result', id: 1, output: 'a\uFFFD\uFFFDb' })
      await served(client)
    }
  })

  it.each([100, 20_000])('input nested %i deep is BAD_REQUEST for its id', async (depth) => {
    const client = await open(encoding)
    if (encoding === 'json') client.sendRaw(`[1,1,"echo",null,${nestedText(depth)}]`, false)
    else client.sendRaw(mp([1, 1, 'echo', null, new Raw([...new Array<number>(depth).fill(0x91), 0x90])]), true)
    expect(await client.next()).toEqual(badRequest(1))
    await served(client)
  })

  it('a frame nested 20,000 deep, whose element 0 is no tag, closes 4400', async () => {
    // docs/protocol.md §3: element 0 not an integer.
    const client = await open(encoding)
    if (encoding === 'json') client.sendRaw(nestedText(20_000), false)
    else client.sendRaw(Uint8Array.from([...new Array<number>(20_000).fill(0x91), 0x90]), true)
    await client.expectClose(4400)
  })

  it('a date, set or BigInt extension is BAD_REQUEST (JSON cannot write one)', async () => {
    if (encoding === 'json') return
    const client = await open(encoding)
    const hostile = new Packr({ moreTypes: true, useRecords: false })
    let id = 0
    for (const value of [new Date(0), new Set([1]), 2n ** 70n]) {
      client.sendRaw(hostile.pack([1, ++id, 'echo', null, value]), true)
      expect(await client.next()).toEqual(badRequest(id, /input refused/))
    }
    await served(client)
  })

  it('bytes: msgpack bin both ways; JSON gets what JSON.stringify makes of a Uint8Array', async () => {
    const client = await open(encoding)
    srv.values.set(2, new Uint8Array([1, 2]))
    const answer = (await client.call(1, 'give', { key: 2 })) as { output: unknown }
    if (encoding === 'json') expect(answer.output).toEqual({ 0: 1, 1: 2 })
    else expect([...(answer.output as Uint8Array)]).toEqual([1, 2])
  })
})

describe('§6 what the server does with values that do not encode', () => {
  it('sendableError keeps plain data and issues, drops the rest, keeps code and message', () => {
    const limit = 64
    expect(sendableError({ code: 'X', message: 'm' }, limit)).toEqual({ code: 'X', message: 'm' })
    expect(sendableError({ code: 'X', message: 'm', data: { a: [1] } }, limit)).toEqual({ code: 'X', message: 'm', data: { a: [1] } })
    expect(sendableError({ code: 'X', message: 'm', data: new Date(0) }, limit)).toEqual({ code: 'X', message: 'm' })
    expect(sendableError({ code: 'X', message: 'm', data: 1n }, limit)).toEqual({ code: 'X', message: 'm' })
    expect(sendableError({ code: 'X', message: 'm', data: Number.NaN }, limit)).toEqual({ code: 'X', message: 'm' })
    const issues = [{ message: 'bad', path: ['a', 0] }]
    expect(sendableError({ code: 'X', message: 'm', issues }, limit)).toEqual({ code: 'X', message: 'm', issues })
    const symbolPath = [{ message: 'bad', path: [Symbol('s')] }]
    expect(sendableError({ code: 'X', message: 'm', issues: symbolPath }, limit)).toEqual({ code: 'X', message: 'm' })
  })

  it('a symbol in a schema issue path travels as its description', () => {
    const key = Symbol('where')
    const schema = {
      '~standard': { version: 1 as const, vendor: 'test', validate: () => ({ issues: [{ message: 'no', path: [key, { key: 'k' }] }] }) },
    }
    expect(validate(schema, 1)).toEqual({ ok: false, issues: [{ message: 'no', path: ['Symbol(where)', 'k'] }] })
  })

  it.each<Encoding>(['json', 'msgpack'])('a pub whose schema makes a Date is answered BAD_REQUEST; subscribers get nothing (%s)', async (encoding) => {
    const client = await open(encoding)
    const listener = await open(encoding === 'json' ? 'msgpack' : 'json')
    listener.send({ t: 'sub', id: 1, path: 'dated' })
    expect(await listener.next()).toMatchObject({ t: 'result', id: 1 })
    client.send({ t: 'pub', id: 1, path: 'dated', data: 0 })
    expect(await client.next()).toEqual(badRequest(1, /Message for "dated" is not plain data/))
    await served(client)
    await served(listener)
    expect(listener.received).toHaveLength(2)
  })

  it('the error code tables of §6 and the errors guide list every code the server sends', () => {
    const protocol = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8')
    const section6 = protocol.slice(protocol.indexOf('## §6'), protocol.indexOf('## §7'))
    const guide = readFileSync(new URL('../../docs/guide/errors.md', import.meta.url), 'utf8')
    for (const code of Object.values(ErrorCode)) expect(section6, code).toContain(`| \`${code}\` |`)
    for (const code of ['BAD_REQUEST', 'NOT_FOUND', 'TOO_MANY_REQUESTS', 'RATE_LIMITED', 'INTERNAL']) expect(guide, code).toContain(`\`${code}\``)
    // One message for a result that does not encode, wherever the document names it.
    expect(protocol).not.toContain('Result is not plain data')
    expect(protocol.match(/Result could not be encoded/g)?.length).toBeGreaterThanOrEqual(2)
    // §9 no longer says the server does not check what handlers return.
    expect(protocol).not.toContain('does\nnot check what handlers return')
    expect(protocol).not.toMatch(/server does\s+not check/)
  })
})
