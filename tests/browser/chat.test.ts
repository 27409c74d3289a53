/**
 * The example app in real headless Chromium (the one support/browser.ts finds), on the browser's own WebSocket,
 * once per encoding.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from '../support/browser.js'
import { startExample, type ExampleServer } from './example-server.js'

let browser: Browser
let example: ExampleServer
const problems: string[] = []
const pages: Page[] = []

async function open(encoding: string): Promise<Page> {
  const context = await browser.newContext()
  const page = await context.newPage()
  pages.push(page)
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`)
  })
  await page.goto(`${example.url}/?encoding=${encoding}`)
  return page
}

beforeAll(async () => {
  example = await startExample()
  browser = await launchChromium()
})

afterEach(async () => {
  await Promise.all(pages.splice(0).map((page) => page.context().close()))
  // No page error or console error in any test.
  const seen = problems.splice(0)
  expect(seen).toEqual([])
})

afterAll(async () => {
  await browser?.close()
  await example?.stop()
})

describe.each(['json', 'msgpack'])('chat example in Chromium over %s', (encoding) => {
  it('connects with the requested subprotocol', async () => {
    const page = await open(encoding)
    const status = page.getByTestId('status')
    await status.and(page.locator('[data-state="open"]')).waitFor()
    expect(await status.getAttribute('data-encoding')).toBe(encoding)
    // The negotiated subprotocol as the browser itself reports it, not only what the client says.
    const protocol = await page.evaluate(async (url) => {
      const socket = new WebSocket(url, [`patchbay.v1.${new URLSearchParams(location.search).get('encoding') ?? ''}`])
      return new Promise<string>((resolve, reject) => {
        socket.onopen = () => {
          resolve(socket.protocol)
          socket.close()
        }
        socket.onerror = () => reject(new Error('socket failed'))
      })
    }, `${example.url.replace('http', 'ws')}/ws`)
    expect(protocol).toBe(`patchbay.v1.${encoding}`)
  })

  it('a message typed in one page appears live in another, and both see who is online', async () => {
    const room = `room-${encoding}-${Date.now()}`
    const alice = await open(encoding)
    const bob = await open(encoding)
    for (const [page, name] of [[alice, 'alice'], [bob, 'bob']] as const) {
      await page.getByTestId('author').fill(name)
      await page.getByTestId('room').fill(room)
      await page.getByTestId('room').dispatchEvent('change')
    }
    // Presence is a topic too: each page learns of the other without asking.
    await alice.getByTestId('online').getByText('online: alice, bob').waitFor()
    await bob.getByTestId('online').getByText('online: alice, bob').waitFor()
    await alice.getByTestId('text').fill(`hello over ${encoding}`)
    await alice.getByTestId('send').click()
    await alice.getByTestId('messages').getByText(`hello over ${encoding}`).waitFor()
    await bob.getByTestId('messages').getByText(`hello over ${encoding}`).waitFor()
    expect(await bob.getByTestId('messages').locator('li').count()).toBe(1)
    // Closing a page takes its name off the list in the other.
    await bob.context().close()
    await alice.getByTestId('online').getByText('online: alice', { exact: true }).waitFor()
  })

  it('shows a typed BAD_REQUEST for an empty message, and keeps working', async () => {
    const page = await open(encoding)
    await page.locator('[data-state="open"]').waitFor()
    await page.getByTestId('room').fill(`errors-${encoding}-${Date.now()}`)
    await page.getByTestId('room').dispatchEvent('change')
    await page.getByTestId('text').fill('   ')
    await page.getByTestId('send').click()
    await page.locator('[data-testid="problem"][data-code="BAD_REQUEST"]').waitFor()
    expect(await page.getByTestId('problem').textContent()).toContain('Say something')
    await page.getByTestId('text').fill('after the error')
    await page.getByTestId('send').click()
    await page.getByTestId('messages').getByText('after the error').waitFor()
  })
})
