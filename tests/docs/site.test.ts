/**
 * The docs site in real Chromium (issue 15): the built site (`npm run docs:build`, which
 * turbo runs before this suite) served on 127.0.0.1, its home page, every page in the
 * sidebar without a console error, the local search finding "backpressure", and a twoslash
 * hover showing a type. Screenshots go to tests/.artifacts/docs-site/ (gitignored).
 *
 * Run alone with `cd tests && npx vitest run docs/site.test.ts`: it builds the site first
 * when there is no build, but uses whatever build is there (run `npm run docs:build` after
 * editing the docs).
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile } from 'node:fs/promises'
import { dirname, join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from '../support/browser.js'
import { serveStatic, type StaticSite } from './static-server.js'

const REPO = fileURLToPath(new URL('../..', import.meta.url))
const DIST = join(REPO, 'docs/.vitepress/dist')
const ARTIFACTS = join(REPO, 'tests/.artifacts/docs-site')

let site: StaticSite
let browser: Browser
let page: Page
const problems: string[] = []

beforeAll(async () => {
  if (!existsSync(join(DIST, 'index.html'))) {
    // No build yet (the test run alone on a fresh clone): make one, as turbo would.
    await promisify(execFile)('npm', ['run', 'docs:build', '-w', '@patchbay/docs'], { cwd: REPO, maxBuffer: 64 * 1024 * 1024 })
  }
  await mkdir(ARTIFACTS, { recursive: true })
  console.log(`docs site screenshots: ${ARTIFACTS}`)
  site = await serveStatic(DIST)
  browser = await launchChromium()
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  page.on('pageerror', (error) => problems.push(`${page.url()}: pageerror: ${error.message}`))
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`${page.url()}: console: ${message.text()}`)
  })
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`${response.url()}: HTTP ${response.status()}`)
  })
}, 900_000)

afterEach(() => {
  // Each test answers for the console errors of its own pages.
  problems.splice(0)
})

afterAll(async () => {
  await browser?.close()
  await site?.close()
})

/** Opens `path` and waits until Vue has mounted the page (so hovers and clicks reach it). */
async function open(path: string): Promise<void> {
  await page.goto(`${site.url}${path}`)
  await page.waitForFunction(() => (document.querySelector('#app') as { __vue_app__?: unknown } | null)?.__vue_app__ !== undefined)
}

const shot = (name: string): Promise<Buffer> => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: false })

describe('the docs site', () => {
  it('opens the home page', async () => {
    await open('/')
    await expect(page.locator('.VPHero .name').textContent()).resolves.toContain('Patchbay')
    await shot('home')
    expect(problems).toEqual([])
  }, 60_000)

  it('follows the sidebar through every page without a console error', async () => {
    await open('/guide/getting-started')
    await page.locator('.VPSidebar').waitFor()
    const links = await page.locator('.VPSidebar a.VPLink[href]').evaluateAll((anchors) =>
      [...new Set(anchors.map((anchor) => new URL((anchor as HTMLAnchorElement).href).pathname))])
    expect(links.length).toBeGreaterThan(15)
    for (const path of links) {
      const link = page.locator(`.VPSidebar a.VPLink[href="${path}"]`).first()
      // A link in a collapsed group (the API reference) is opened by address instead.
      if (await link.isVisible()) await link.click()
      else await open(path)
      await page.waitForURL((url) => url.pathname === path)
      await page.locator('.vp-doc h1').first().waitFor()
      expect(await page.locator('.NotFound').count(), path).toBe(0)
    }
    await shot('last-sidebar-page')
    expect(problems).toEqual([])
  }, 300_000)

  it('finds "backpressure" with the search box', async () => {
    await open('/guide/getting-started')
    await page.locator('#local-search button').click()
    const input = page.locator('.VPLocalSearchBox input')
    await input.fill('backpressure')
    const result = page.locator('.VPLocalSearchBox .results a').first()
    await result.waitFor()
    await expect(page.locator('.VPLocalSearchBox .results').textContent()).resolves.toMatch(/backpressure/i)
    await shot('search')
    await result.click()
    await page.waitForURL((url) => url.pathname !== '/guide/getting-started')
    await page.locator('.VPDoc').waitFor()
    expect(problems).toEqual([])
  }, 60_000)

  it('shows a type when hovering a snippet', async () => {
    await open('/guide/getting-started')
    // `client.math.add` in the last client snippet: its hover names the input and output.
    const add = page.locator('.vp-doc .twoslash-hover', { hasText: /^add$/ }).last()
    await add.hover()
    const popup = page.locator('.v-popper__popper--shown .twoslash-popup-code').first()
    await popup.waitFor()
    const type = await popup.textContent()
    expect(type).toMatch(/add/)
    expect(type).toMatch(/a: number/)
    await shot('twoslash-hover')
    expect(problems).toEqual([])
  }, 60_000)

  // VitePress fails the build on a dead page link but not on a dead #anchor, which lands
  // silently at the top of the page. The site's heading ids follow GitHub's rule, so one link
  // works in both places (docs/.vitepress/config.ts, githubSlug).
  it('has no link to an anchor that is not on its page', async () => {
    const pages = (await readdir(DIST, { recursive: true })).filter((file) => file.endsWith('.html'))
    const ids = new Map<string, Set<string>>()
    for (const file of pages) {
      const html = await readFile(join(DIST, file), 'utf8')
      ids.set(file, new Set([...html.matchAll(/\sid="([^"]+)"/g)].map((match) => decodeURIComponent(match[1] ?? ''))))
    }
    const dead: string[] = []
    let checked = 0
    for (const file of pages) {
      // The API reference is TypeDoc's output, with its own anchors; the pages are ours.
      if (file.startsWith('api/')) continue
      const html = await readFile(join(DIST, file), 'utf8')
      for (const [tag] of html.matchAll(/<a [^>]*>/g)) {
        // A heading's own anchor always lands; count only links to somewhere.
        if (tag.includes('header-anchor')) continue
        const href = /\shref="([^"]*)"/.exec(tag)?.[1] ?? ''
        const [path = '', hash = ''] = href.split('#')
        if (hash === '' || /^[a-z]+:/.test(path)) continue
        const target = path === '' ? file : path.startsWith('/') ? path.slice(1) : posix.join(dirname(file), path)
        const targetFile = [target, `${target}.html`, posix.join(target, 'index.html')].find((candidate) => ids.has(candidate))
        if (targetFile === undefined) continue
        checked++
        if (!ids.get(targetFile)?.has(decodeURIComponent(hash))) dead.push(`${file}: ${href}`)
      }
    }
    expect(checked).toBeGreaterThan(20)
    expect(dead).toEqual([])
  })
})
