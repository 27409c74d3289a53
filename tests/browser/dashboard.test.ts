/**
 * The dashboard example (examples/dashboard) in real headless Chromium: the built server as
 * a child process, exactly as `npm run start:dashboard` runs it, and its production page.
 * Gauges arrive on a `latest` topic, the traffic series on a stream with credit
 * (docs/protocol.md §15); a slow tab must keep both the server's sending and its own memory
 * bounded.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { Browser, Page } from 'playwright-core'
import { createClient, type Client } from '@patchbay/client'
import { launchChromium } from '../support/browser.js'
import { startExample, type ExampleServer } from './example-server.js'
import { api } from '../../examples/dashboard/src/api.js'

/** The page's stream window (examples/dashboard/src/traffic.tsx `CREDIT`): what the server may send ahead. */
const CREDIT = 16

let browser: Browser
let example: ExampleServer
/** A Node client of the example's own server: reads what the server's streams have sent. */
let observer: Client<typeof api>
const problems: string[] = []
const pages: Page[] = []

interface Flow {
  taken: number
  held: number
  capacity: number
  credit: number
  ageMs: number
}

async function open(query = ''): Promise<Page> {
  const page = await (await browser.newContext()).newPage()
  pages.push(page)
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`)
  })
  await page.goto(`${example.url}/${query}`)
  await page.locator('[data-testid="status"][data-state="open"]').waitFor()
  return page
}

/** The page's own account of its stream (`window.dashboard`, examples/dashboard/src/traffic.tsx). */
const flowOf = (page: Page): Promise<Flow> => page.evaluate(() => ({ ...(window as unknown as { dashboard: Flow }).dashboard }))

beforeAll(async () => {
  // Gauges every 100 ms, so a few samples take well under a second.
  example = await startExample({ GAUGE_INTERVAL_MS: '100' }, '@patchbay/example-dashboard')
  browser = await launchChromium()
  observer = createClient(api, { url: `${example.url.replace('http', 'ws')}/ws`, WebSocket, encodings: ['json'] })
  await observer.connect()
})

afterEach(async () => {
  await Promise.all(pages.splice(0).map((page) => page.context().close()))
  expect(problems.splice(0)).toEqual([])
})

afterAll(async () => {
  await observer?.close()
  await browser?.close()
  await example?.stop()
})

describe('the dashboard example in Chromium', () => {
  it('the gauges update from the latest topic', async () => {
    const page = await open()
    const gauges = page.locator('[data-testid="gauges"][data-at]')
    await gauges.waitFor()
    const first = Number(await gauges.getAttribute('data-at'))
    // A later sample replaces it: the dials follow the topic.
    await expect.poll(async () => Number(await gauges.getAttribute('data-at')), { timeout: 10_000 }).toBeGreaterThan(first)
    expect(Number(await page.getByTestId('gauge-rss').textContent())).toBeGreaterThan(0)
    expect(Number(await page.getByTestId('gauge-connections').textContent())).toBeGreaterThanOrEqual(2) // the page and the observer
    expect(await page.getByTestId('gauge-cpu').textContent()).toMatch(/^\d+(\.\d)?$/)
  })

  it('a chart gets points from the stream; the procedures answer through TanStack Query', async () => {
    const page = await open('?interval=50')
    await expect.poll(async () => Number(await page.getByTestId('chart-rps').getAttribute('data-points')), { timeout: 10_000 }).toBeGreaterThanOrEqual(10)
    // One polyline per series, with a point per item.
    const drawn = await page.locator('[data-testid="chart-latency"] polyline').evaluateAll((lines) => lines.map((line) => line.getAttribute('points')?.split(' ').length ?? 0))
    expect(drawn).toHaveLength(2)
    expect(Math.min(...drawn)).toBeGreaterThanOrEqual(10)
    await page.getByTestId('info').getByText(/Server pid \d+/).waitFor()
    await page.getByTestId('spike').click()
    await page.getByTestId('spike-until').waitFor()
    // The labelled interval select restarts the stream with the new input.
    await page.getByLabel('Sample every').selectOption('500')
    // (The previous page's stream ends when its connection does: allow for a loaded machine.)
    await expect.poll(async () => (await observer.metrics.streams()).map((stream) => stream.intervalMs), { timeout: 10_000 }).toEqual([500])
  })

  it('a slow tab: the server sends at most the credit ahead, the page holds a fixed window and a steady DOM and heap', async () => {
    // 20 ms of work per point against a point every 2 ms: the page takes at most 50 a second
    // while the server could make 500. Credit must hold the server to the page's pace.
    const page = await open('?slow=20&interval=2&window=60')
    const cdp = await page.context().newCDPSession(page)
    const heapAfterGc = async (): Promise<number> => {
      await cdp.send('HeapProfiler.collectGarbage')
      return (await cdp.send('Runtime.getHeapUsage')).usedSize
    }
    const nodes = (): Promise<number> => page.evaluate(() => document.getElementsByTagName('*').length)
    // The window fills (60 points held) before the baseline is taken.
    await expect.poll(async () => (await flowOf(page)).taken, { timeout: 15_000 }).toBeGreaterThanOrEqual(60)
    const baseline = { heap: await heapAfterGc(), nodes: await nodes() }
    let ahead = 0
    let samples = 0
    let last = await flowOf(page)
    const from = last.taken
    // Until the page has taken 100 more points (about 5 s at its pace; longer on a loaded
    // machine), looking at least 5 times. Each look waits for the page's busy work to yield.
    while (last.taken < from + 100 || samples < 5) {
      // What the server has sent first, then what the page has taken: the page only takes
      // more meanwhile, so the difference can only overstate what is ahead.
      const [stream] = (await observer.metrics.streams()).filter((entry) => entry.intervalMs === 2)
      last = await flowOf(page)
      expect(stream).toBeDefined()
      ahead = Math.max(ahead, (stream?.sent ?? 0) - last.taken)
      samples++
      expect(last.held).toBeLessThanOrEqual(60)
    }
    // Never more than the window ahead: no backlog on the server's socket or in the page.
    expect(ahead).toBeLessThanOrEqual(CREDIT)
    const sent = (await observer.metrics.streams()).find((entry) => entry.intervalMs === 2)?.sent ?? 0
    expect(sent).toBeLessThanOrEqual(last.taken + CREDIT + 20) // + what the page took since
    // Points are sampled when there is credit, so the newest is fresh, not queued for seconds
    // (a margin for a loaded 2-core machine).
    expect(last.ageMs).toBeLessThan(5_000)
    // The page: a fixed window, the same DOM, and no heap growth beyond noise.
    expect(last.held).toBe(60)
    expect(await nodes()).toBe(baseline.nodes)
    expect(await heapAfterGc()).toBeLessThan(baseline.heap + 8 * 1024 * 1024)
    // And it stays responsive: a real mouse click (no waiting for the page to be idle, as
    // locator.click does) goes through a mutation and renders while points keep coming.
    const button = await page.getByTestId('spike').boundingBox()
    expect(button).not.toBeNull()
    await page.mouse.click((button?.x ?? 0) + 5, (button?.y ?? 0) + 5)
    await page.getByTestId('spike-until').waitFor({ timeout: 10_000 })
  }, 60_000)
})
