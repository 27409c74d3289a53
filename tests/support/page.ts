/**
 * A test page for Chromium: `source` (ES module code that may import the workspace
 * packages) bundled with esbuild and served from 127.0.0.1, since Chromium blocks a page of
 * no origin (about:blank) from reaching loopback.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { build } from 'esbuild'

export interface ServedPage {
  /** The page's address: an HTML document that loads the bundle. */
  readonly url: string
  close(): Promise<void>
}

/** Bundles `source` (its imports resolved from `resolveDir`) and serves it on a free port. */
export async function servePage(source: string, resolveDir: string): Promise<ServedPage> {
  const bundle = await build({
    stdin: { contents: source, resolveDir, loader: 'js' },
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    logLevel: 'warning',
  })
  const script = bundle.outputFiles[0]?.text ?? ''
  const http = createServer((request, response) => {
    if (request.url === '/page.js') response.writeHead(200, { 'Content-Type': 'text/javascript' }).end(script)
    else response.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><script src="/page.js"></script>')
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/`,
    close: () => new Promise<void>((resolve) => http.close(() => resolve())),
  }
}
