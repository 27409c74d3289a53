/**
 * The chat example on two nodes (issue 13, item 4): a real redis-server, two chat server
 * processes on it (REDIS_URL), one Chromium page on each. Messages, history and presence
 * cross between the nodes; `npm run start:cluster` starts and stops the same set.
 */
import { spawn } from 'node:child_process'
import { createConnection } from 'node:net'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from '../support/browser.js'
import { startExample, type ExampleServer } from './example-server.js'
import { RedisServer } from '../support/redis.js'

const CLUSTER = join(dirname(createRequire(import.meta.url).resolve('@patchbay/example-chat/package.json')), 'dist/cluster.js')

let redis: RedisServer
let nodeA: ExampleServer
let nodeB: ExampleServer
let browser: Browser
const problems: string[] = []
const pages: Page[] = []

/** Opens the chat on `node` as `name` in `room`; `watch` false for a page whose server will stop (its reconnects log errors). */
async function open(node: ExampleServer, name: string, room: string, watch = true): Promise<Page> {
  const context = await browser.newContext()
  const page = await context.newPage()
  pages.push(page)
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
  page.on('console', (message) => {
    if (watch && message.type() === 'error') problems.push(`console: ${message.text()}`)
  })
  await page.goto(node.url)
  await page.locator('[data-state="open"]').waitFor()
  await page.getByTestId('author').fill(name)
  await page.getByTestId('room').fill(room)
  await page.getByTestId('room').dispatchEvent('change')
  return page
}

async function say(page: Page, text: string): Promise<void> {
  await page.getByTestId('text').fill(text)
  await page.getByTestId('send').click()
}

const online = (page: Page, text: string): Promise<void> => page.getByTestId('online').getByText(text, { exact: true }).waitFor()

beforeAll(async () => {
  redis = await RedisServer.start()
  ;[nodeA, nodeB] = await Promise.all([startExample({ REDIS_URL: redis.url, NODE_ID: 'a' }), startExample({ REDIS_URL: redis.url, NODE_ID: 'b' })])
  browser = await launchChromium()
})

afterEach(async () => {
  await Promise.all(pages.splice(0).map((page) => page.context().close()))
  const seen = problems.splice(0)
  expect(seen).toEqual([])
})

afterAll(async () => {
  await browser?.close()
  await Promise.all([nodeA?.stop(), nodeB?.stop()])
  await redis?.stop()
})

describe('chat example on two nodes over Redis, in Chromium', () => {
  it('messages, history and presence cross between the nodes', async () => {
    const room = `cluster-${Date.now()}`
    expect(nodeA.url).not.toBe(nodeB.url)
    // Both join at once: each node publishes its own members, each page shows the union,
    // whichever node announced first.
    const [alice, bob] = await Promise.all([open(nodeA, 'alice', room), open(nodeB, 'bob', room)])
    await online(alice, 'online: alice, bob')
    await online(bob, 'online: alice, bob')

    await say(alice, 'from node a')
    await bob.getByTestId('messages').getByText('from node a').waitFor()
    await say(bob, 'from node b')
    await alice.getByTestId('messages').getByText('from node b').waitFor()

    // A page arriving later on node a reads the room's history from Redis: node b's message too.
    const carol = await open(nodeA, 'carol', room)
    await carol.getByTestId('messages').getByText('from node b').waitFor()
    expect(await carol.getByTestId('messages').locator('li').allTextContents()).toEqual(['alice from node a', 'bob from node b'])
    await online(carol, 'online: alice, bob, carol')
    await online(bob, 'online: alice, bob, carol')

    // Closing bob's page (node b) takes his name off the pages of node a.
    await bob.context().close()
    await online(alice, 'online: alice, carol')
    await online(carol, 'online: alice, carol')
    expect(await alice.getByTestId('messages').locator('li').count()).toBe(2)
  })

  it('a node that stops takes its members off the other nodes\' pages', async () => {
    const room = `stop-${Date.now()}`
    const nodeC = await startExample({ REDIS_URL: redis.url, NODE_ID: 'c' })
    try {
      const alice = await open(nodeA, 'alice', room)
      await open(nodeC, 'dave', room, false)
      await online(alice, 'online: alice, dave')
      // SIGTERM: node c publishes its empty share before closing its connections.
      await nodeC.stop()
      await online(alice, 'online: alice')
    } finally {
      await nodeC.stop()
    }
  })
})

/** Resolves with the process's exit code, and its output so far. */
function run(env: NodeJS.ProcessEnv): { output: () => string; exited: Promise<number | null>; kill: (signal: NodeJS.Signals) => void } {
  const child = spawn(process.execPath, [CLUSTER], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  return { output: () => output, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))), kill: (signal) => child.kill(signal) }
}

/** True when nothing accepts connections on the loopback `port`. */
const closed = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' })
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', () => resolve(true))
  })

describe('npm run start:cluster (examples/chat/dist/cluster.js)', () => {
  it('says what to install when redis-server is missing', async () => {
    const cluster = run({ REDIS_SERVER: '/nonexistent/redis-server', REDIS_URL: '' })
    expect(await cluster.exited).toBe(1)
    expect(cluster.output()).toContain('apt-get install redis-server')
    expect(cluster.output()).toContain('REDIS_URL=')
  })

  it('starts redis-server and two chat servers, and stops all three on SIGTERM', async () => {
    const cluster = run({ PORTS: '0,0', REDIS_URL: '' })
    const lines = (): { redis: number; nodes: number[] } => ({
      redis: Number(/redis at redis:\/\/127\.0\.0\.1:(\d+)/.exec(cluster.output())?.[1] ?? 0),
      nodes: [...cluster.output().matchAll(/listening on http:\/\/localhost:(\d+)/g)].map((match) => Number(match[1])),
    })
    // Both nodes print their line once listening; poll the output the process streams.
    await expect.poll(() => lines().nodes.length, { timeout: 10_000, interval: 50 }).toBe(2)
    const { redis: redisPort, nodes } = lines()
    expect(await closed(redisPort)).toBe(false)
    for (const port of nodes) expect(await closed(port)).toBe(false)
    cluster.kill('SIGTERM')
    expect(await cluster.exited).toBe(0)
    for (const port of [redisPort, ...nodes]) expect(await closed(port)).toBe(true)
  })
})
