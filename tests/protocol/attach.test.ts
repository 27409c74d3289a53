/**
 * §2 Sharing an http.Server: Patchbay upgrades its own path only; other paths are left to
 * other upgrade listeners, and answered 404 when nobody else listens.
 */
import { createServer as createHttpServer, type Server } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { z } from 'zod'
import { procedure, router } from '@patchbay/core'
import { createServer, type PatchbayServer } from '@patchbay/server'
import { connectRaw, refusedUpgrade } from '../conformance/support.js'

const api = router({ health: procedure({ output: z.literal('ok') }) })
let http: Server
let patchbay: PatchbayServer
afterEach(async () => {
  await patchbay.close()
  http.closeAllConnections()
  await new Promise((resolve) => http.close(resolve))
})

async function listen(): Promise<string> {
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const address = http.address()
  return `ws://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
}

describe('§2 attach to a shared http.Server', () => {
  it('serves its path, leaves other paths to other listeners', async () => {
    http = createHttpServer()
    patchbay = createServer(api, { handlers: { health: () => 'ok' as const } })
    patchbay.attach(http, { path: '/ws' })
    const other = new WebSocketServer({ noServer: true })
    http.on('upgrade', (request, socket, head) => {
      if (request.url === '/other') other.handleUpgrade(request, socket, head, (ws) => ws.send('hello from other'))
    })
    const base = await listen()
    const client = await connectRaw(`${base}/ws`, 'json')
    client.send({ t: 'call', id: 1, path: 'health' })
    expect(await client.next()).toEqual({ t: 'result', id: 1, output: 'ok' })
    client.ws.close()
    const plain = new WebSocket(`${base}/other`)
    expect(String(await new Promise((resolve) => plain.once('message', resolve)))).toBe('hello from other')
    plain.close()
    other.close()
  })

  it('answers 404 for other paths when nobody else listens', async () => {
    http = createHttpServer()
    patchbay = createServer(api, { handlers: { health: () => 'ok' as const } })
    patchbay.attach(http, { path: '/ws' })
    const base = await listen()
    expect((await refusedUpgrade(`${base}/elsewhere`, ['patchbay.v1.json'])).status).toBe(404)
  })

  it('matches its path exactly, ignoring only the query string', async () => {
    // docs/protocol.md §2 "Which URL": no normalisation of the path.
    http = createHttpServer()
    patchbay = createServer(api, { handlers: { health: () => 'ok' as const } })
    patchbay.attach(http, { path: '/ws' })
    const base = await listen()
    for (const path of ['/ws/', '/WS', '/ws/x', '/', '/ws%2F']) {
      expect((await refusedUpgrade(`${base}${path}`, ['patchbay.v1.json'])).status, path).toBe(404)
    }
    const client = await connectRaw(`${base}/ws?tenant=x`, 'msgpack')
    client.send({ t: 'call', id: 1, path: 'health' })
    expect(await client.next()).toEqual({ t: 'result', id: 1, output: 'ok' })
    client.ws.close()
  })
})
