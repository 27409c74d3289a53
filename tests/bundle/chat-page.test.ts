/**
 * The chat example serves what a user should ship: its page minified, precompressed with
 * brotli and gzip, sent as the smallest copy the browser accepts, and free of zod (the page
 * is made from the router's shape).
 */
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startExample, type ExampleServer } from '../browser/example-server.js'

let example: ExampleServer
let built: Buffer
beforeAll(async () => {
  example = await startExample()
  const root = dirname(createRequire(import.meta.url).resolve('@patchbay/example-chat/package.json'))
  built = await readFile(join(root, 'dist/public/page.js'))
})
afterAll(() => example?.stop())

const get = (path: string, acceptEncoding?: string): Promise<Response> =>
  fetch(`${example.url}${path}`, { headers: acceptEncoding === undefined ? {} : { 'Accept-Encoding': acceptEncoding } })

describe('the chat page as served', () => {
  it('is minified and free of zod', () => {
    // Unminified it was 912 KB with zod; minified, with msgpackr, under 80 KB.
    expect(built.byteLength).toBeLessThan(80_000)
    expect(built.toString()).not.toMatch(/ZodError|zod/i)
    expect(built.toString().split('\n').length).toBeLessThan(5)
  })

  it('comes as brotli to a browser that takes it, gzip to one that takes only gzip, plain otherwise', async () => {
    const brotli = await get('/page.js', 'gzip, deflate, br')
    expect(brotli.headers.get('content-encoding')).toBe('br')
    expect(brotli.headers.get('vary')).toBe('Accept-Encoding')
    expect(brotli.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    const brotliBody = Buffer.from(await brotli.arrayBuffer())
    // fetch decodes the body itself; the length on the wire is the header's.
    expect(Number(brotli.headers.get('content-length'))).toBeLessThan(built.byteLength / 2.5)
    expect(brotliBody.equals(built)).toBe(true)

    const gzip = await get('/page.js', 'gzip;q=1.0, br;q=0')
    expect(gzip.headers.get('content-encoding')).toBe('gzip')
    expect(Buffer.from(await gzip.arrayBuffer()).equals(built)).toBe(true)

    const plain = await get('/page.js', 'identity')
    expect(plain.headers.get('content-encoding')).toBeNull()
    expect(Number(plain.headers.get('content-length'))).toBe(built.byteLength)
    expect(Buffer.from(await plain.arrayBuffer()).equals(built)).toBe(true)
  })

  it('serves index.html compressed too, and nothing outside public/', async () => {
    const index = await get('/', 'br')
    expect(index.headers.get('content-encoding')).toBe('br')
    expect(await index.text()).toContain('page.js')
    expect((await get('/..%2Fserver.js', 'br')).status).toBe(404)
    expect((await get('/missing.js', 'gzip')).status).toBe(404)
  })
})

// The copies on disk are the page's own bytes, compressed.
it('ships .br and .gz copies that decompress to the page', async () => {
  const root = dirname(createRequire(import.meta.url).resolve('@patchbay/example-chat/package.json'))
  expect(brotliDecompressSync(await readFile(join(root, 'dist/public/page.js.br'))).equals(built)).toBe(true)
  expect(gunzipSync(await readFile(join(root, 'dist/public/page.js.gz'))).equals(built)).toBe(true)
})
