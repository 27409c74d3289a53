/**
 * A client made from a router's shape is the client made from the router (docs/guide/bundling.md):
 * the same frames for the same calls, over a frame-level server; and the shape is what
 * `patchbay-shape` derives from the router.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { build } from 'esbuild'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { procedure, router, stream, topic } from '@patchbay/core'
import { createClient, printShape, routerShape, type RouterShape } from '@patchbay/client'
import { streams, topics } from '@patchbay/client/features'
import { createClient as createSlimClient } from '@patchbay/client/slim'
import { msgpackCodec } from '@patchbay/client/msgpack'
import { startRawServer, type RawServer } from '../client/raw-server.js'

const api = router({
  me: procedure({ output: z.string() }),
  save: procedure({ input: z.object({ x: z.number() }), output: z.null(), idempotent: true }),
  ticks: stream({ input: z.object({ n: z.number() }), output: z.number() }),
  news: topic({ message: z.string(), publish: 'client' }),
  room: topic({ params: z.object({ room: z.string() }), message: z.string(), publish: 'client' }),
  nested: { deep: { ping: procedure({ input: z.number(), output: z.number() }) } },
})

const apiShape: RouterShape<typeof api> = {
  '~features': [topics, streams],
  me: 'procedure',
  save: 'idempotent procedure',
  ticks: 'stream',
  news: 'topic',
  room: 'topic with params',
  nested: { deep: { ping: 'procedure' } },
}

let raw: RawServer | undefined
afterEach(async () => {
  await raw?.close()
  raw = undefined
})

/** The frames a client sends for one call of every kind, ids and keys made comparable. */
async function framesOf(make: (url: string) => ReturnType<typeof createClient<typeof api>>): Promise<unknown[]> {
  raw = await startRawServer('json')
  const client = make(raw.url)
  const socket = await raw.nextSocket()
  void client.me().catch(() => {})
  void client.save({ x: 1 }).catch(() => {})
  void client.ticks({ n: 2 }).next().catch(() => {})
  client.news.subscribe(() => {})
  client.room.subscribe({ room: 'a' }, () => {})
  void client.news.publish('hi').catch(() => {})
  void client.room.publish({ room: 'a' }, 'hello').catch(() => {})
  void client.nested.deep.ping(7).catch(() => {})
  const frames: unknown[] = []
  for (let i = 0; i < 8; i++) {
    const { id, key, ...rest } = await raw.nextMessage(socket)
    frames.push({ ...rest, id: typeof id, ...(key === undefined ? {} : { key: typeof key }) })
  }
  await client.close()
  return frames
}

describe('a client made from the shape', () => {
  it('sends what the client made from the router sends, call for call', async () => {
    const fromRouter = await framesOf((url) => createClient(api, { url, WebSocket, encodings: ['json'], reconnect: false }))
    const fromShape = await framesOf((url) => createSlimClient(apiShape, { url, WebSocket, reconnect: false }))
    expect(fromShape).toEqual(fromRouter)
    // Each kind as the router defines it: the idempotent procedure with its key, topics with and without params.
    expect(fromShape).toContainEqual({ t: 'call', path: 'save', input: { x: 1 }, id: 'number', key: 'string' })
    expect(fromShape).toContainEqual({ t: 'call', path: 'me', id: 'number' })
    expect(fromShape).toContainEqual({ t: 'sub', path: 'news', id: 'number' })
    expect(fromShape).toContainEqual({ t: 'pub', path: 'room', params: { room: 'a' }, data: 'hello', id: 'number' })
    expect(fromShape).toContainEqual(expect.objectContaining({ t: 'stream', path: 'ticks', input: { n: 2 } }))
  })

  it('offers JSON alone from both entries unless given msgpack\'s codec (issue 17: msgpackr is optional)', async () => {
    raw = await startRawServer('json')
    const slim = createSlimClient(apiShape, { url: raw.url, WebSocket, reconnect: false })
    await slim.connect()
    const full = createClient(apiShape, { url: raw.url, WebSocket, reconnect: false })
    await full.connect()
    const opted = createClient(apiShape, { url: raw.url, WebSocket, reconnect: false, encodings: [msgpackCodec, 'json'] })
    await opted.connect()
    expect(raw.offers).toEqual([['patchbay.v1.json'], ['patchbay.v1.json'], ['patchbay.v1.msgpack', 'patchbay.v1.json']])
    await Promise.all([slim.close(), full.close(), opted.close()])
  })

  it("refuses 'msgpack' by name in both clients, saying what to import", () => {
    const encodings = ['msgpack'] as unknown as ['json']
    expect(() => createSlimClient(apiShape, { url: 'ws://127.0.0.1:1', WebSocket, encodings, lazy: true })).toThrow(/@patchbay\/client\/msgpack/)
    expect(() => createClient(api, { url: 'ws://127.0.0.1:1', WebSocket, encodings, lazy: true })).toThrow(/npm install msgpackr/)
  })

  it('refuses a shape whose router has topics or streams it does not import', () => {
    // Such shapes fail to type-check (shape.test-d.ts); JavaScript, or a hand-edited shape, meets this.
    const stale = (shape: object): RouterShape<typeof api> => shape as RouterShape<typeof api>
    const { '~features': _features, ...bare } = apiShape
    expect(() => createSlimClient(stale(bare), { url: 'ws://127.0.0.1:1', WebSocket, lazy: true })).toThrow(/"ticks" is a stream, but the shape does not import streams/)
    expect(() => createSlimClient(stale({ ...bare, '~features': [topics] }), { url: 'ws://127.0.0.1:1', WebSocket, lazy: true })).toThrow(/does not import streams/)
    const noTopics = stale({ ...bare, ticks: 'procedure', '~features': [streams] })
    expect(() => createSlimClient(noTopics, { url: 'ws://127.0.0.1:1', WebSocket, lazy: true })).toThrow(/"news" is a topic, but the shape does not import topics/)
  })

  it('refuses a shape entry that is not a kind', () => {
    const stale = { me: 'query' } as unknown as RouterShape<typeof api>
    expect(() => createSlimClient(stale, { url: 'ws://127.0.0.1:1', WebSocket, lazy: true })).toThrow(/"me" has an unknown shape "query"/)
  })
})

describe('patchbay-shape', () => {
  const cli = fileURLToPath(new URL('../../packages/client/bin/patchbay-shape.mjs', import.meta.url))
  const fixture = (name: string): string => fileURLToPath(new URL(`fixture/${name}`, import.meta.url))

  it('derives the shape from the router', () => {
    const { '~features': _features, ...tree } = apiShape
    expect(routerShape(api)).toEqual(tree)
    const printed = printShape(api, { from: './api.js' })
    expect(printed).toContain("import { topics, streams } from '@patchbay/client/features'\n")
    expect(printed).toContain("export const apiShape: RouterShape<typeof api> = {\n  '~features': [topics, streams],\n  me: 'procedure',\n  save: 'idempotent procedure',")
  })

  it("writes the README fixture's shape from its router; --check fails on a shape that differs", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'patchbay-shape-'))
    try {
      // The router as Node can import it (Node 20 runs no TypeScript): one bundled module.
      await build({ entryPoints: [fixture('api.ts')], bundle: true, platform: 'node', format: 'esm', outfile: join(dir, 'api.mjs'), logLevel: 'silent' })
      const run = promisify(execFile)
      await run(process.execPath, [cli, join(dir, 'api.mjs'), '--out', join(dir, 'api.shape.ts'), '--from', './api.js'])
      expect(await readFile(join(dir, 'api.shape.ts'), 'utf8')).toBe(await readFile(fixture('api.shape.ts'), 'utf8'))
      await run(process.execPath, [cli, join(dir, 'api.mjs'), '--out', fixture('api.shape.ts'), '--from', './api.js', '--check'])
      // A shape written for another router (here: `add` made idempotent) no longer matches.
      const stale = join(dir, 'stale.shape.ts')
      await writeFile(stale, (await readFile(fixture('api.shape.ts'), 'utf8')).replace("add: 'procedure'", "add: 'idempotent procedure'"))
      const checked = await run(process.execPath, [cli, join(dir, 'api.mjs'), '--out', stale, '--check']).catch((error: { code: number; stderr: string }) => error)
      expect(checked).toMatchObject({ code: 1, stderr: expect.stringMatching(/does not match the router/) })
      const missing = await run(process.execPath, [cli, join(dir, 'api.mjs'), '--export', 'missing']).catch((error: { code: number; stderr: string }) => error)
      expect(missing).toMatchObject({ code: 1, stderr: expect.stringMatching(/has no export "missing"/) })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
