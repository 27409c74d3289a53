/**
 * The bench's `ws-<enc>-cork-pbwire` systems (raw ws speaking Patchbay's messages and nothing
 * else of Patchbay) are only a floor for Patchbay if they speak Patchbay's wire exactly
 * (docs/protocol.md §3: every message one array, element 0 its tag). So each half is run
 * against Patchbay's other half, in process over loopback, as bench/src/tools/inproc.js's
 * `server` and `client` systems do: the raw client on Patchbay's server, Patchbay's client on
 * the raw server, and the slow-consumer's bare stalled subscriber on Patchbay's server.
 */
import { Tag } from '@patchbay/core'
import { afterEach, describe, expect, it } from 'vitest'
import { Tag as BenchTag } from '@patchbay/bench/src/lib/envelope.js'
import { patchbayAdapter } from '@patchbay/bench/src/lib/patchbay-client.js'
import { startPatchbay } from '@patchbay/bench/src/lib/patchbay-server.js'
import { rawWsAdapter } from '@patchbay/bench/src/lib/raw-ws-client.js'
import { startRawWs } from '@patchbay/bench/src/lib/raw-ws-server.js'

type Closable = { close: () => unknown }
const open: Closable[] = []
afterEach(async () => {
  // Clients first, then the servers they were on (pushed in that order by each test).
  for (const item of open.splice(0).reverse()) await item.close()
})

/** Subscribes to the fan-out topic, publishes one message, resolves with what arrived. */
async function publishOne(adapter: ReturnType<typeof rawWsAdapter>, url: string): Promise<unknown> {
  const { subscribe, publisher } = adapter
  if (subscribe === undefined || publisher === undefined) throw new Error('no topics')
  let arrived!: (data: unknown) => void
  const event = new Promise<unknown>((resolve) => (arrived = resolve))
  open.push(await subscribe(url, 'bench', (data) => arrived(data)))
  const pub = await publisher(url, 'bench')
  open.push(pub)
  // Patchbay's publish resolves with the server's answer: awaited too, so nothing is left
  // waiting when the clients close (the raw client's publish answers nothing).
  const [data] = await Promise.all([event, pub.publish({ seq: 7, body: 'hello' })])
  return data
}

describe.each(['json', 'msgpack'] as const)('-pbwire speaks Patchbay wire (%s), docs/protocol.md §3', (encoding) => {
  it("the raw -pbwire client calls, subscribes and receives events on Patchbay's server", async () => {
    const server = await startPatchbay(encoding, {})
    open.push(server)
    const url = `ws://127.0.0.1:${server.port}`
    const client = await rawWsAdapter(encoding, true, 'patchbay').connect(url)
    open.push(client)
    expect(await client.add(2, 3)).toBe(5)
    expect(await publishOne(rawWsAdapter(encoding, true, 'patchbay'), url)).toEqual({ seq: 7, body: 'hello' })
  })

  it("Patchbay's client calls, subscribes and receives events on the raw -pbwire server", async () => {
    const server = await startRawWs(encoding, true, 'patchbay', {})
    open.push(server)
    const url = `ws://127.0.0.1:${server.port}`
    const client = await patchbayAdapter(encoding).connect(url)
    open.push(client)
    expect(await client.add(2, 3)).toBe(5)
    expect(await publishOne(patchbayAdapter(encoding), url)).toEqual({ seq: 7, body: 'hello' })
  })

  it("slow-consumer's bare stalled socket is confirmed by Patchbay's server", async () => {
    const server = await startPatchbay(encoding, {})
    open.push(server)
    const stall = patchbayAdapter(encoding).stall
    if (stall === undefined) throw new Error('no stalled subscriber')
    const stalled = await stall(`ws://127.0.0.1:${server.port}`, 'bench')
    open.push(stalled)
  })
})

it("the bench's tags are @patchbay/core's (the raw systems keep their own copy to need no build)", () => {
  expect({ ...BenchTag }).toEqual({ ...Tag })
})
