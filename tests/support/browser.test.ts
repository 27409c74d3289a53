/**
 * The browser finder (`browser.ts`): the Chromium inside the npm package runs here with only
 * the libraries it carries, a chosen path is never silently replaced, and a run without any
 * browser stops before its first test with the one command that fixes it.
 */
import { execFile, spawn } from 'node:child_process'
import { createServer as createHttpServer, type Server } from 'node:http'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromium } from 'playwright-core'
import { WebSocketServer } from 'ws'
import { BROWSER_FIX, CHROMIUM_ARGS, findChromium } from './browser.js'

const TESTS_DIR = fileURLToPath(new URL('..', import.meta.url))
// Launching a browser or a vitest process: seconds, more on a loaded machine.
const PROCESS_TIMEOUT = 60_000
const VITEST = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs')

describe('the bundled Chromium (@sparticuz/chromium)', () => {
  let http: Server
  let port = 0

  beforeAll(async () => {
    http = createHttpServer((_request, response) => {
      response.writeHead(200, { 'Content-Type': 'text/html' })
      response.end('<!doctype html><title>finder</title>')
    })
    // The page opens a WebSocket to the same loopback server, as the browser suites do.
    new WebSocketServer({ server: http }).on('connection', (socket) => socket.send('hello from 127.0.0.1'))
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    const address = http.address()
    port = typeof address === 'object' && address !== null ? address.port : 0
  })

  afterAll(() => new Promise<void>((resolve) => http.close(() => resolve())))

  it('is chosen by PATCHBAY_CHROMIUM=bundled, needs no NSS from the host, and talks WebSocket to a loopback server', { timeout: PROCESS_TIMEOUT }, async () => {
    const found = await findChromium({ env: { ...process.env, PATCHBAY_CHROMIUM: 'bundled' } })
    expect(found.source).toBe('the npm package @sparticuz/chromium')
    expect(found.version).toMatch(/^\d+\.\d+\.\d+\.\d+$/)

    // Debian's chromium package brings NSS, NSPR and expat; the bundled binary gets its own
    // copies (Amazon Linux's) first on its library path, so a machine without them runs it.
    const { stdout } = await promisify(execFile)('ldd', [found.executablePath], { env: { ...process.env, ...found.env } })
    for (const library of ['libnss3.so', 'libnspr4.so', 'libexpat.so.1']) {
      expect(stdout).toMatch(new RegExp(`${library.replace(/\./g, '\\.')} => \\S*/al2023/lib/`))
    }

    const browser = await chromium.launch({ executablePath: found.executablePath, args: CHROMIUM_ARGS, env: { ...process.env, ...found.env } })
    try {
      const page = await browser.newPage()
      await page.goto(`http://127.0.0.1:${port}/`)
      const received = await page.evaluate(
        (url) =>
          new Promise<string>((resolve, reject) => {
            const socket = new WebSocket(url)
            socket.onmessage = (event) => resolve(String(event.data))
            socket.onerror = () => reject(new Error('WebSocket error'))
          }),
        `ws://127.0.0.1:${port}`,
      )
      expect(received).toBe('hello from 127.0.0.1')
    } finally {
      await browser.close()
    }
  })
})

describe('when no browser launches', () => {
  it('an explicit PATCHBAY_CHROMIUM is the only candidate: a typo fails, naming the fix', async () => {
    const error = await findChromium({ env: { PATH: process.env.PATH, PATCHBAY_CHROMIUM: '/nonexistent/chromium' } }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(Error)
    const message = (error as Error).message
    expect(message).toContain(`Fix: ${BROWSER_FIX}`)
    expect(message).toContain('PATCHBAY_CHROMIUM=/nonexistent/chromium: ENOENT')
    expect(message).not.toContain('@sparticuz/chromium')
  })

  it('nothing on the system and no fallback: one error with the fix', async () => {
    await expect(findChromium({ env: { PATH: '' }, systemPaths: [], bundled: false })).rejects.toThrow(`Fix: ${BROWSER_FIX}`)
  })

  it('the test command stops before its first test and prints the fix once, not a failure per browser test', { timeout: PROCESS_TIMEOUT }, async () => {
    const vitest = spawn(process.execPath, [VITEST, 'run', 'browser/chat.test.ts'], {
      cwd: TESTS_DIR,
      env: { ...process.env, PATCHBAY_CHROMIUM: '/nonexistent/chromium', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    vitest.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    vitest.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const code = await new Promise<number | null>((resolve) => vitest.on('close', resolve))
    expect(code).toBe(1)
    expect(output.split(`Fix: ${BROWSER_FIX}`)).toHaveLength(2)
    expect(output).not.toMatch(/✓|FAIL|Test Files/)
  })
})
