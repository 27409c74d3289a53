/**
 * Client bundle size: the smallest useful client of each library, bundled for the browser
 * as an app ships it (esbuild --bundle --minify, ESM, browser platform) and gzipped at
 * level 9 (docs/benchmarks.md, "Client bundle size"). Each entry connects over WebSocket and
 * makes one request, as the README's Patchbay example does. Sizes are deterministic.
 *
 *   node src/bundle-size.js [--json]
 */
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { gzipSync } from 'node:zlib'

const here = fileURLToPath(new URL('.', import.meta.url))

/** The README's client: its router's shape (as patchbay-shape writes it, minus the type-only imports) and one call. */
const patchbayShape = `const apiShape = { math: { add: 'procedure' } }`

/** @type {{ name: string, note: string, source: string }[]} */
const entries = [
  {
    name: 'Patchbay, JSON (the README)',
    note: '`@patchbay/client/slim` + the router\'s shape',
    source: `import { createClient } from '@patchbay/client/slim'
${patchbayShape}
const client = createClient(apiShape, { url: 'ws://localhost:3000' })
console.log(await client.math.add({ a: 1, b: 2 }, { timeout: 5_000 }))`,
  },
  {
    name: 'Patchbay, msgpack + JSON',
    note: 'the same with `msgpackCodec` from `@patchbay/client/msgpack`',
    source: `import { createClient } from '@patchbay/client/slim'
import { msgpackCodec } from '@patchbay/client/msgpack'
${patchbayShape}
const client = createClient(apiShape, { url: 'ws://localhost:3000', encodings: [msgpackCodec, 'json'] })
console.log(await client.math.add({ a: 1, b: 2 }, { timeout: 5_000 }))`,
  },
  {
    name: 'Patchbay, JSON, with topics and streams',
    note: 'a shape whose router has both brings `topics` and `streams`',
    source: `import { createClient } from '@patchbay/client/slim'
import { streams, topics } from '@patchbay/client/features'
const apiShape = { '~features': [topics, streams], chat: { send: 'idempotent procedure', room: 'topic with params' }, ticks: 'stream' }
const client = createClient(apiShape, { url: 'ws://localhost:3000' })
client.chat.room.subscribe({ room: 'a' }, (message) => console.log(message))
for await (const tick of client.ticks()) console.log(tick)`,
  },
  {
    name: 'Patchbay, from the router (zod)',
    note: '`createClient(api)` from `@patchbay/client`: the router and its schemas bundled',
    source: `import { z } from 'zod'
import { procedure, router } from '@patchbay/core'
import { createClient } from '@patchbay/client'
const api = router({ math: { add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }) } })
const client = createClient(api, { url: 'ws://localhost:3000' })
console.log(await client.math.add({ a: 1, b: 2 }, { timeout: 5_000 }))`,
  },
  {
    name: 'msgpackr pack + unpack',
    note: 'msgpackr\'s own share of the msgpack client',
    source: `import { Packr, Unpackr } from 'msgpackr'
console.log(new Packr({ useRecords: false }).pack(new Unpackr({ useRecords: false }).unpack(new Uint8Array([0x90]))))`,
  },
  {
    name: 'socket.io-client',
    note: '`io()` with the websocket transport, one acknowledged emit',
    source: `import { io } from 'socket.io-client'
const socket = io('ws://localhost:3000', { transports: ['websocket'] })
socket.emit('add', { a: 1, b: 2 }, (sum) => console.log(sum))`,
  },
  {
    name: '@trpc/client with wsLink',
    note: 'type-only router import, one query',
    source: `import { createTRPCClient, createWSClient, wsLink } from '@trpc/client'
const client = createTRPCClient({ links: [wsLink({ client: createWSClient({ url: 'ws://localhost:3000' }) })] })
console.log(await client.math.add.query({ a: 1, b: 2 }))`,
  },
  {
    name: 'graphql-ws client',
    note: '`createClient`, one query through `iterate`',
    source: `import { createClient } from 'graphql-ws'
const client = createClient({ url: 'ws://localhost:3000' })
for await (const result of client.iterate({ query: '{ add(a: 1, b: 2) }' })) console.log(result)`,
  },
]

/**
 * @param {string} source
 * @returns {Promise<{ min: number, gzip: number }>}
 */
async function measure(source) {
  const result = await build({
    stdin: { contents: source, resolveDir: here, loader: 'js', sourcefile: 'entry.js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    logLevel: 'silent',
  })
  const file = result.outputFiles[0]
  if (file === undefined) throw new Error('esbuild wrote nothing')
  return { min: file.contents.byteLength, gzip: gzipSync(file.contents, { level: 9 }).byteLength }
}

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false } } })
const rows = []
for (const entry of entries) rows.push({ ...entry, ...(await measure(entry.source)) })
if (values.json) {
  console.log(JSON.stringify(rows.map(({ name, min, gzip }) => ({ name, min, gzip })), null, 2))
} else {
  const kb = (/** @type {number} */ bytes) => `${(bytes / 1024).toFixed(1)} KB`
  console.log('| client | min | min+gzip | what is bundled |\n| --- | ---: | ---: | --- |')
  for (const row of rows) console.log(`| ${row.name} | ${kb(row.min)} | ${kb(row.gzip)} (${row.gzip} B) | ${row.note} |`)
}
