/**
 * Failures as a browser client sees them, in real headless Chromium (Debian's) on the
 * browser's own WebSocket: what a refused connection reports (a page learns almost nothing,
 * and the error says so and where to look, docs/guide/errors.md), and the chat example
 * across a server restart: a message sent while the server was down reaches its sender,
 * because the subscriptions are restored before the queued send goes out (docs/protocol.md
 * §10, docs/guide/lifecycle.md).
 */
import { createServer as createNetServer, type AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { z } from 'zod'
import { PatchbayError, procedure, router } from '@patchbay/core'
import { createServer, type PatchbayServer } from '@patchbay/server'
import { launchChromium } from '../support/browser.js'
import { servePage, type ServedPage } from '../support/page.js'
import { startExample, type ExampleServer } from './example-server.js'

/** The page's side: connect once, without reconnecting, and report what the client said. */
const PAGE = `
import { createClient } from '@patchbay/client'
import { router } from '@patchbay/core'
window.tryConnect = (url) => {
  const client = createClient(router({}), { url, reconnect: false })
  return client.connect().then(
    () => ({ opened: true }),
    (error) => ({
      code: error.code,
      message: error.message,
      cause: { name: error.cause?.name, kind: error.cause?.kind, offered: error.cause?.offered, closeCode: error.cause?.closeCode, status: error.cause?.status },
    }),
  )
}
`

interface Reported {
  opened?: boolean
  code?: string
  message?: string
  cause?: { name?: string; kind?: string; offered?: string[]; closeCode?: number; status?: number }
}

let browser: Browser
let served: ServedPage | undefined
let pageUrl = ''
const problems: string[] = []

beforeAll(async () => {
  served = await servePage(PAGE, new URL('.', import.meta.url).pathname)
  pageUrl = served.url
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  await served?.close()
  // A failed WebSocket logs a console error in Chromium by design; page errors would be ours.
  expect(problems).toEqual([])
})

/** The browser's console lines, by page: where Chromium names a failed connection's cause. */
const consoles = new WeakMap<Page, string[]>()

async function testPage(): Promise<Page> {
  const page = await (await browser.newContext()).newPage()
  const lines: string[] = []
  consoles.set(page, lines)
  page.on('console', (message) => lines.push(message.text()))
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
  await page.goto(pageUrl)
  await page.waitForFunction(() => 'tryConnect' in window)
  return page
}

function tryConnect(page: Page, url: string): Promise<Reported> {
  return page.evaluate((target) => (window as unknown as { tryConnect: (url: string) => Promise<Reported> }).tryConnect(target), url)
}

describe('a failed connection in Chromium', () => {
  it('a refused port: CONNECTION_FAILED whose cause says the browser cannot tell why, and where to look', async () => {
    const probe = createNetServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const { port } = probe.address() as AddressInfo
    await new Promise((resolve) => probe.close(resolve))
    const page = await testPage()
    const reported = await tryConnect(page, `ws://127.0.0.1:${port}`)
    expect(reported.code).toBe('CONNECTION_FAILED')
    expect(reported.cause).toEqual({ name: 'ConnectionFailure', kind: 'unknown', offered: ['patchbay.v1.json'], closeCode: 1006 })
    expect(reported.message).toContain(`ws://127.0.0.1:${port}`)
    expect(reported.message).toContain("browser's console")
    expect(reported.message).toContain("server's log")
    // Where the message points: the console names it (the page itself cannot read this).
    expect(consoles.get(page)?.join('\n')).toContain('ERR_CONNECTION_REFUSED')
    await page.context().close()
  })

  it("a refused upgrade (a context hook's 401) looks the same to a page: the status stays in the server's log", async () => {
    const api = router({ ping: procedure({ output: z.null() }) })
    const logged: string[] = []
    const record = (_fields: Record<string, unknown>, message: string): void => void logged.push(message)
    const server: PatchbayServer = createServer(api, {
      logger: { error: record, warn: record, info: record, debug: () => {} },
      context: () => {
        throw new PatchbayError('UNAUTHORIZED', 'Sign in again')
      },
      handlers: { ping: () => null },
    })
    const { port } = await server.listen({ port: 0, host: '127.0.0.1' })
    const page = await testPage()
    const reported = await tryConnect(page, `ws://127.0.0.1:${port}`)
    expect(reported).toMatchObject({ code: 'CONNECTION_FAILED', cause: { kind: 'unknown', closeCode: 1006 } })
    expect(reported.cause?.status).toBeUndefined()
    // Where the message points: the server's log names the refusal.
    expect(logged).toEqual(['Refused a WebSocket upgrade with HTTP 401: Sign in again'])
    await page.context().close()
    await server.close()
  })
})

describe('the chat example across a server restart', () => {
  let example: ExampleServer | undefined
  let page: Page | undefined

  afterEach(async () => {
    await page?.context().close()
    page = undefined
    await example?.stop()
    example = undefined
  })

  it.each(['json', 'msgpack'])('over %s, a message sent while the server was down reaches its sender once the server is back', async (encoding) => {
    example = await startExample()
    const port = new URL(example.url).port
    page = await (await browser.newContext()).newPage()
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
    await page.goto(`${example.url}/?encoding=${encoding}`)
    const room = `restart-${encoding}-${Date.now()}`
    await page.getByTestId('author').fill('alice')
    await page.getByTestId('room').fill(room)
    // Blurred, so the native change event fires now, once: not later, when the composer takes
    // the focus while the server is down (the page would then subscribe afresh, in order).
    await page.getByTestId('room').blur()
    // Subscribed and joined: presence lists us.
    await page.getByTestId('online').getByText('online: alice', { exact: true }).waitFor()
    await example.stop()
    example = undefined
    await page.locator('[data-testid="status"][data-state="reconnecting"]').waitFor()
    await page.getByTestId('text').fill(`said while away over ${encoding}`)
    await page.getByTestId('send').click()
    // The same port, so the page's URL (and the server's allowed origin) stay the same.
    example = await startExample({ PORT: port })
    // The send resolved (the page clears its input then): the event was written before the
    // call's result on the same socket (§10), so the message is on the page by now.
    await page.waitForFunction(() => (document.getElementById('text') as HTMLInputElement).value === '')
    expect(await page.getByTestId('messages').locator('li').allTextContents()).toEqual([`alice said while away over ${encoding}`])
  })
})
