/**
 * Serves a built VitePress site (`cleanUrls`) from a folder on 127.0.0.1, port 0: `/a/b`
 * answers `a/b.html`, `/a/` answers `a/index.html`, anything else is a file or the site's
 * 404 page. Enough for a browser to walk the site the way a static host serves it.
 */
import { createServer, type Server } from 'node:http'
import { readFile } from 'node:fs/promises'
import { extname, join, normalize } from 'node:path'
import type { AddressInfo } from 'node:net'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.ico': 'image/x-icon',
}

export interface StaticSite {
  url: string
  close(): Promise<void>
}

/** The files a request path may be, in the order a clean-URL host tries them. */
function candidates(pathname: string): string[] {
  const path = normalize(decodeURIComponent(pathname)).replace(/^(\.\.[/\\])+/, '')
  if (path.endsWith('/')) return [join(path, 'index.html')]
  return extname(path) === '' ? [`${path}.html`, join(path, 'index.html')] : [path]
}

export async function serveStatic(root: string): Promise<StaticSite> {
  const server: Server = createServer((request, response) => {
    const { pathname } = new URL(request.url ?? '/', 'http://127.0.0.1')
    void (async () => {
      for (const file of candidates(pathname)) {
        const body = await readFile(join(root, file)).catch(() => undefined)
        if (body === undefined) continue
        response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' })
        response.end(body)
        return
      }
      response.writeHead(404, { 'content-type': TYPES['.html'] })
      response.end(await readFile(join(root, '404.html')).catch(() => 'not found'))
    })()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}
