/**
 * Serves a built page from its dist/public: each file as the smallest copy the browser accepts
 * (brotli, gzip, or as is), built beside it by build-page.mjs, never compressed per request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { readFile } from 'node:fs/promises'
import { extname, join } from 'node:path'

const types: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.map': 'application/json', '.css': 'text/css' }

/** The copies to try, best first, for a request's Accept-Encoding (q=0 refuses one). */
function encodingsFor(header: string | undefined): { encoding: string; suffix: string }[] {
  const accepted = new Set<string>()
  for (const part of (header ?? '').split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';')
    if (!params.some((param) => /^\s*q\s*=\s*0(\.0*)?\s*$/.test(param))) accepted.add(name.trim())
  }
  const copies: { encoding: string; suffix: string }[] = []
  if (accepted.has('br')) copies.push({ encoding: 'br', suffix: '.br' })
  if (accepted.has('gzip')) copies.push({ encoding: 'gzip', suffix: '.gz' })
  return copies
}

/** Answers a request for a file in `dir` (only plain names: never a path outside it). */
export async function serveStatic(dir: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname
  const file = path === '/' ? 'index.html' : path.slice(1)
  if (!/^[\w.-]+$/.test(file)) {
    response.writeHead(404).end('Not found')
    return
  }
  const headers: Record<string, string> = { 'Content-Type': types[extname(file)] ?? 'application/octet-stream', Vary: 'Accept-Encoding' }
  for (const { encoding, suffix } of encodingsFor(request.headers['accept-encoding'])) {
    const body = await readFile(join(dir, file + suffix)).catch(() => undefined)
    if (body !== undefined) {
      response.writeHead(200, { ...headers, 'Content-Encoding': encoding, 'Content-Length': String(body.length) }).end(body)
      return
    }
  }
  const body = await readFile(join(dir, file)).catch(() => undefined)
  if (body === undefined) response.writeHead(404).end('Not found')
  else response.writeHead(200, { ...headers, 'Content-Length': String(body.length) }).end(body)
}
