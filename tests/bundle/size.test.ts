/**
 * The budgets of the README's example client in a browser bundle (docs/guide/bundling.md,
 * docs/benchmarks.md "Client bundle size"). Sizes are deterministic, so these are checks,
 * not timings: a change that grows the client past its budget fails here.
 */
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { measure } from './measure.js'

const fixture = (name: string): string => fileURLToPath(new URL(`fixture/${name}`, import.meta.url))

/**
 * The README's client with JSON only, minified and gzipped (issue 17 asks 9 KiB: the class of
 * @trpc/client's wsLink, 8.6 KB): 8,531 bytes when first set. Its router has no topic and no
 * stream, so its shape brings neither feature. Connection diagnostics (why a connection
 * failed, waiting calls failing with that cause) then brought it to 9,379 bytes with their
 * Node-only part left out of browser bundles (node-diagnostics.ts); core's code tables
 * replaced by inlinable constants (packages/client/src/codes.ts), corking moved to the Node
 * diagnostics and constructor-assigned class fields won it back: 8,755 bytes. The logger, the
 * tracing hooks and the JSON `__proto__` check took it to 9,292 (msgpack: 21,383); topic and
 * stream plumbing moved into their features, and small trims, brought it to 8,844 (20,933).
 */
const JSON_BUDGET = 9 * 1024

const zod = /node_modules\/zod\//
const msgpackr = /node_modules\/msgpackr\//
const featureModule = /packages\/client\/(dist|src)\/(topics|streams|subscriptions|stream|iterate|failing-iterator)\.[jt]s$/

describe("the README's client in a browser bundle", () => {
  it('is the README\'s code', async () => {
    const readme = await readFile(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8')
    const client = await readFile(fixture('client.ts'), 'utf8')
    // The fixture is the README's client.ts block from its import on.
    expect(readme).toContain(client.slice(client.indexOf('import')))
  })

  it(`with JSON only: at most ${JSON_BUDGET} bytes min+gzip, no zod, no msgpackr`, async () => {
    const json = await measure(fixture('client.ts'))
    expect(json.inputs.filter((input) => zod.test(input))).toEqual([])
    expect(json.inputs.filter((input) => msgpackr.test(input))).toEqual([])
    // Its router has no topic and no stream: none of their modules (features.ts), whose code
    // makes the topic objects, stream functions and their messages.
    expect(json.inputs.filter((input) => featureModule.test(input))).toEqual([])
    expect(json.gzip).toBeLessThanOrEqual(JSON_BUDGET)
  })

  it("with msgpack: at most the JSON budget plus msgpackr's own pack/unpack, none of its optional parts", async () => {
    const [withMsgpack, msgpackrAlone] = await Promise.all([measure(fixture('client-msgpack.ts')), measure(fixture('msgpackr.ts'))])
    expect(withMsgpack.inputs.filter((input) => zod.test(input))).toEqual([])
    // pack.js and unpack.js (through msgpackr's browser index): no iterators, streams or native extractor.
    expect(withMsgpack.inputs.filter((input) => msgpackr.test(input)).map((input) => input.replace(/^.*node_modules\/msgpackr\//, '')).sort()).toEqual(['pack.js', 'unpack.js'])
    expect(withMsgpack.gzip).toBeLessThanOrEqual(JSON_BUDGET + msgpackrAlone.gzip)
  })
})
