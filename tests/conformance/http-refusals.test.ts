/**
 * §2 HTTP refusals of malformed upgrade requests, and what each `context` hook error becomes,
 * with a bare `net` socket against `listen()` and against `attach()` to an application's
 * own http.Server; and §2's 4406, reached through `attach()` when the request changes after
 * the server's checks.
 */
import { createServer as createHttpServer, type Server } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { PatchbayError, procedure, router } from '@patchbay/core'
import { createServer, type PatchbayServer } from '@patchbay/server'
import { Opcode, frame, httpExchange, upgradeRaw, upgradeRequest } from './raw-socket.js'

const api = router({ health: procedure({ output: z.literal('ok') }) })

let patchbay: PatchbayServer
let http: Server | undefined
let hookCalls = 0
afterEach(async () => {
  await patchbay.close()
  if (http !== undefined) {
    http.closeAllConnections()
    await new Promise((resolve) => http?.close(resolve))
    http = undefined
  }
  hookCalls = 0
})

/** The `context` hook: `?throw=CODE` throws a PatchbayError with that code, `?strip` removes the subprotocol header. */
function context({ url, request }: { url: URL; request: { headers: Record<string, unknown> } }): { user: string } {
  hookCalls++
  const code = url.searchParams.get('throw')
  if (code === 'plain') throw new Error('secret db password')
  if (code !== null) throw new PatchbayError(code, `refused with ${code}`)
  // An application hook that edits the request it was handed (§2's defence in depth).
  if (url.searchParams.has('strip')) delete request.headers['sec-websocket-protocol']
  return { user: 'anon' }
}

async function start(how: 'listen' | 'attach'): Promise<number> {
  patchbay = createServer(api, { context, handlers: { health: () => 'ok' as const } })
  if (how === 'listen') return (await patchbay.listen({ port: 0, host: '127.0.0.1' })).port
  http = createHttpServer()
  patchbay.attach(http)
  await new Promise<void>((resolve) => http?.listen(0, '127.0.0.1', resolve))
  const address = http.address()
  return typeof address === 'object' && address !== null ? address.port : 0
}

describe.each(['listen', 'attach'] as const)('§2 refusals of malformed upgrades (%s)', (how) => {
  it.each([
    ['a POST upgrade', upgradeRequest({ method: 'POST', headers: { 'Content-Length': '0' } }), 405, /GET/, { allow: 'GET' }],
    ['an Upgrade other than websocket', upgradeRequest({ headers: { Upgrade: 'h2c' } }), 400, /Upgrade/, {}],
    ['no Sec-WebSocket-Key', upgradeRequest({ headers: { 'Sec-WebSocket-Key': undefined } }), 400, /Sec-WebSocket-Key/, {}],
    ['a Sec-WebSocket-Key that is not 16 bytes in base64', upgradeRequest({ headers: { 'Sec-WebSocket-Key': 'c2hvcnQ=' } }), 400, /Sec-WebSocket-Key/, {}],
    ['no Sec-WebSocket-Version', upgradeRequest({ headers: { 'Sec-WebSocket-Version': undefined } }), 400, /Sec-WebSocket-Version/, { 'sec-websocket-version': '13' }],
    ['Sec-WebSocket-Version 8', upgradeRequest({ headers: { 'Sec-WebSocket-Version': '8' } }), 400, /Sec-WebSocket-Version/, { 'sec-websocket-version': '13' }],
    ['Sec-WebSocket-Version 14', upgradeRequest({ headers: { 'Sec-WebSocket-Version': '14' } }), 400, /Sec-WebSocket-Version/, { 'sec-websocket-version': '13' }],
    ['a duplicated subprotocol', upgradeRequest({ headers: { 'Sec-WebSocket-Protocol': 'patchbay.v1.json, patchbay.v1.json' } }), 400, /Sec-WebSocket-Protocol/, {}],
    ['an empty subprotocol in the list', upgradeRequest({ headers: { 'Sec-WebSocket-Protocol': 'patchbay.v1.json,,x' } }), 400, /Sec-WebSocket-Protocol/, {}],
    ['a subprotocol that is not a token', upgradeRequest({ headers: { 'Sec-WebSocket-Protocol': 'patchbay.v1.json, a b' } }), 400, /Sec-WebSocket-Protocol/, {}],
  ])('%s: refused before the context hook runs', async (_name, request, status, body, headers) => {
    // docs/protocol.md §2: the request's form is checked before Origin, subprotocol and hook.
    const port = await start(how)
    const answer = await httpExchange(port, request)
    expect(answer.status).toBe(status)
    expect(answer.body).toMatch(body)
    expect(answer.headers).toMatchObject(headers)
    expect(hookCalls).toBe(0)
  })

  it('headers over 16 KiB: 431 from Node, before anything of Patchbay', async () => {
    // docs/protocol.md §2
    const port = await start(how)
    const answer = await httpExchange(port, upgradeRequest({ headers: { Cookie: `a=${'x'.repeat(17 * 1024)}` } }))
    expect(answer.status).toBe(431)
    expect(hookCalls).toBe(0)
  })

  it('a well-formed upgrade is accepted (the checks above refuse nothing valid)', async () => {
    const port = await start(how)
    const socket = await upgradeRaw(port, upgradeRequest({ headers: { 'Sec-WebSocket-Protocol': 'graphql-ws,\tpatchbay.v1.json , patchbay.auth.YWRh' } }))
    expect(socket.answer.headers['sec-websocket-protocol']).toBe('patchbay.v1.json')
    expect(hookCalls).toBe(1)
    socket.destroy()
  })

  it.each([
    ['BAD_REQUEST', 400],
    ['UNAUTHORIZED', 401],
    ['FORBIDDEN', 403],
    ['NOT_FOUND', 404],
    ['TOO_MANY_REQUESTS', 429],
    ['RATE_LIMITED', 429],
  ])('a context hook throwing %s refuses with %i and its message', async (code, status) => {
    // docs/protocol.md §2: the codes a context hook may throw.
    const port = await start(how)
    const answer = await httpExchange(port, upgradeRequest({ path: `/?throw=${code}` }))
    expect(answer.status).toBe(status)
    expect(answer.body).toBe(`refused with ${code}`)
  })

  it.each(['INTERNAL', 'CONFLICT', 'OUT_OF_STOCK', 'plain'])('a context hook throwing %s refuses with 500 and a generic body', async (code) => {
    // docs/protocol.md §2: any other code, or anything else thrown.
    const port = await start(how)
    const answer = await httpExchange(port, upgradeRequest({ path: `/?throw=${code}` }))
    expect(answer.status).toBe(500)
    expect(answer.body).toBe('Internal server error')
  })

  it('a socket that opens without a Patchbay subprotocol is closed 4406 before any frame is read', async () => {
    // docs/protocol.md §2: reachable only when the request changes after the checks (here the
    // context hook deletes the subprotocol header, so ws answers 101 without one).
    const port = await start(how)
    const socket = await upgradeRaw(port, upgradeRequest({ path: '/?strip' }))
    expect(socket.answer.headers['sec-websocket-protocol']).toBeUndefined()
    const { code, before } = await socket.closeFrame()
    expect(code).toBe(4406)
    expect(before).toEqual([])
    expect(patchbay.connectionCount).toBe(0)
    socket.destroy()
  })

  it('a socket closed 4406 that sends a malformed frame before its close frame is counted once and crashes nothing', async () => {
    // docs/protocol.md §2, §2.2: ws reads on after the 4406 and reports the fault as an
    // 'error' event, which threw (an uncaught exception) while nothing listened to it.
    const port = await start(how)
    const socket = await upgradeRaw(port, upgradeRequest({ path: '/?strip' }))
    socket.write(frame(Opcode.TEXT, '{"t":"ping"}', { mask: false }))
    expect((await socket.closeFrame()).code).toBe(4406)
    socket.destroy()
    await socket.closed
    // The server still serves, and counted the connection once.
    const next = await upgradeRaw(port, upgradeRequest({ path: '/?strip' }))
    expect((await next.closeFrame()).code).toBe(4406)
    next.destroy()
    expect(patchbay.stats.violations).toBe(2)
  })
})
