/**
 * examples/cursors in real headless Chromium: the built server as a child process (what
 * `npm run start:cursors` runs), pages that move their mouse over the board, and one that
 * floods past the rate limit (docs/protocol.md §9.1).
 */
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from '../support/browser.js'

let browser: Browser
let server: { url: string; stop: () => Promise<void> }
const problems: string[] = []
const pages: Page[] = []

/** Starts the built example on a free port and reads its URL from the line it prints. */
function startCursors(): Promise<typeof server> {
  const root = dirname(createRequire(import.meta.url).resolve('@patchbay/example-cursors/package.json'))
  const child = spawn(process.execPath, [join(root, 'dist/server.js')], { env: { ...process.env, PORT: '0', HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'inherit'] })
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
    })
  return new Promise((resolve, reject) => {
    let output = ''
    child.once('exit', (code) => reject(new Error(`the cursors example exited with ${String(code)} before listening: ${output}`)))
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /listening on (http:\/\/\S+)/.exec(output)
      if (match?.[1] !== undefined) resolve({ url: match[1], stop })
    })
  })
}

async function open(board: string, name: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 } })
  const page = await context.newPage()
  pages.push(page)
  page.on('pageerror', (error) => problems.push(`${name} pageerror: ${error.message}`))
  page.on('console', (message) => {
    if (message.type() !== 'error') return
    // Chromium's own line for send() on a socket the server is closing: the flooder keeps
    // sending after the server's 4429 close frame, until the close completes.
    if (name === 'mallory' && message.text() === 'WebSocket is already in CLOSING or CLOSED state.') return
    problems.push(`${name} console: ${message.text()}`)
  })
  await page.goto(`${server.url}/?board=${board}&name=${name}`)
  // On the board: joined, the others' cursors subscribed and placed where they are.
  await page.locator(`[data-testid="board"][data-joined="${board}"]`).waitFor()
  return page
}

/** Moves the page's mouse across the board to (x, y), fractions of it, in many small steps. */
async function moveTo(page: Page, x: number, y: number): Promise<void> {
  const box = await page.getByTestId('board').boundingBox()
  if (box === null) throw new Error('no board')
  await page.mouse.move(box.x + 5, box.y + 5)
  await page.mouse.move(box.x + x * box.width, box.y + y * box.height, { steps: 60 })
}

// Waits, not bounds: what they wait for takes milliseconds; the margin is for a loaded machine.
/** Where `mover` says it last sent its pointer; waits until it sent the final move. */
async function sentPosition(mover: Page, x: number, y: number, timeout = 15_000): Promise<{ x: string; y: string }> {
  const board = mover.getByTestId('board')
  // The last move is sent within a 60 Hz slot: wait for it rather than for a time.
  const near = async (): Promise<boolean> =>
    Math.abs(Number(await board.getAttribute('data-x')) - x) < 0.01 && Math.abs(Number(await board.getAttribute('data-y')) - y) < 0.01
  await expect.poll(near, { timeout }).toBe(true)
  return { x: (await board.getAttribute('data-x')) ?? '', y: (await board.getAttribute('data-y')) ?? '' }
}

/** Waits until `viewer` draws `name`'s cursor exactly where its page last sent it. */
async function seesAt(viewer: Page, name: string, at: { x: string; y: string }, timeout = 15_000): Promise<void> {
  await viewer.locator(`[data-testid="cursor"][data-name="${name}"][data-x="${at.x}"][data-y="${at.y}"]`).waitFor({ state: 'visible', timeout })
}

beforeAll(async () => {
  server = await startCursors()
  browser = await launchChromium()
})

afterEach(async () => {
  await Promise.all(pages.splice(0).map((page) => page.context().close()))
  expect(problems.splice(0)).toEqual([])
})

afterAll(async () => {
  await browser?.close()
  await server?.stop()
})

describe('cursors example in Chromium', () => {
  it("three pages move their mouse and each draws the others' cursors where they stopped", async () => {
    const board = `b${Date.now()}`
    const names = ['alice', 'bob', 'carol'] as const
    const all = await Promise.all(names.map((name) => open(board, name)))
    for (const page of all) await expect.poll(() => page.getByTestId('cursor').count()).toBe(2)
    const targets = [
      [0.25, 0.3],
      [0.6, 0.75],
      [0.85, 0.15],
    ] as const
    await Promise.all(all.map((page, i) => moveTo(page, targets[i]?.[0] ?? 0, targets[i]?.[1] ?? 0)))
    const sent = await Promise.all(all.map((page, i) => sentPosition(page, targets[i]?.[0] ?? 0, targets[i]?.[1] ?? 0)))
    // `latest` (docs/protocol.md §14): a reader may skip positions, never the last one.
    for (const [v, viewer] of all.entries()) {
      for (const [m, name] of names.entries()) if (m !== v) await seesAt(viewer, name, sent[m] as { x: string; y: string })
      expect(await viewer.getByTestId('empty').isHidden()).toBe(true)
    }
  })

  it('a page flooding past the rate limit sees RATE_LIMITED, then the 4429 close, and the other pages carry on', async () => {
    const board = `f${Date.now()}`
    const [alice, bob, mallory] = (await Promise.all(['alice', 'bob', 'mallory'].map((name) => open(board, name)))) as [Page, Page, Page]
    expect(await alice.getByTestId('limit').textContent()).toContain('100 messages a second per connection, in bursts of up to 100')

    await mallory.getByTestId('flood').check()
    // docs/protocol.md §9.1: a request over the limit gets RATE_LIMITED ("Too many messages;
    // slow down"); a flood that owes a whole burst is closed with 4429 (retryable: it reconnects).
    await mallory.locator('[data-testid="throttle"][data-code="RATE_LIMITED"]').waitFor({ timeout: 15_000 })
    expect(await mallory.getByTestId('throttle').textContent()).toContain('Too many messages; slow down')
    await mallory.locator('[data-testid="closed"][data-code="4429"]').waitFor({ timeout: 15_000 })

    // Meanwhile the honest pages move, and see each other's final positions.
    await Promise.all([moveTo(alice, 0.2, 0.8), moveTo(bob, 0.7, 0.4)])
    const [atAlice, atBob] = await Promise.all([sentPosition(alice, 0.2, 0.8), sentPosition(bob, 0.7, 0.4)])
    await seesAt(bob, 'alice', atAlice)
    await seesAt(alice, 'bob', atBob)

    // The flooder stops; it is back on the board, sees where the others stopped, and its
    // last move arrives too.
    await mallory.getByTestId('flood').uncheck()
    await mallory.locator('[data-testid="status"][data-state="open"]').waitFor({ timeout: 10_000 })
    await expect.poll(() => mallory.getByTestId('cursor').count(), { timeout: 10_000 }).toBe(2)
    // Joined again after the others stopped moving: it asks where they are (board.positions).
    await seesAt(mallory, 'alice', atAlice)
    await seesAt(mallory, 'bob', atBob)
    // A connection that flooded may still owe tokens (up to a burst: a second at 100/s), so
    // its moves may be refused a while longer (the page pauses, then sends its newest), or
    // close it once more, and reconnects back off: hence the longer bound.
    await moveTo(mallory, 0.5, 0.5)
    const atMallory = await sentPosition(mallory, 0.5, 0.5, 15_000)
    await seesAt(alice, 'mallory', atMallory, 15_000)
    await seesAt(bob, 'mallory', atMallory, 15_000)

    // Limits are per connection: nothing of it reached the others.
    for (const page of [alice, bob]) {
      expect(await page.getByTestId('throttle').getAttribute('data-code')).toBeNull()
      expect(await page.getByTestId('closed').getAttribute('data-code')).toBeNull()
      expect(await page.getByTestId('status').getAttribute('data-reconnects')).toBeNull()
    }
  }, 60_000)
})
