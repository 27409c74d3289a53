/**
 * What one idle connection keeps alive on the server, by constructor: the server in this
 * process, `--connections` clients in a child process (each makes one call, then idles, as
 * the idle-memory scenario does), a heap snapshot before and after, and the difference per
 * connection of object counts and self sizes, grouped by node type and name. A diagnostic,
 * not a benchmark of record (that is `npm run bench -- --scenarios idle-memory`).
 *
 * Usage: node --expose-gc src/tools/idle-heap.js [--system patchbay|raw] [--encoding json|msgpack]
 *   [--connections 500] [--concurrency 1] [--top 40] [--keep DIR] [--spaces] [--no-warm]
 * --spaces: no snapshots; how each V8 heap space grew per connection (young generation included).
 * --no-warm: no warm-up connection before the baseline (as the scenario measures).
 * --concurrency: connections opened at once (the scenario opens 50 at a time).
 */
import { fork } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8'

const { values } = parseArgs({
  options: {
    system: { type: 'string', default: 'patchbay' },
    encoding: { type: 'string', default: 'json' },
    connections: { type: 'string', default: '500' },
    top: { type: 'string', default: '40' },
    keep: { type: 'string' },
    spaces: { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '1' },
    'no-warm': { type: 'boolean', default: false },
    role: { type: 'string', default: 'server' },
    url: { type: 'string' },
  },
})
const encoding = /** @type {'json' | 'msgpack'} */ (values.encoding)
const connections = Number(values.connections)

if (values.role === 'client') await client()
else await server()

/** The child: opens the connections, each making one call, and holds them. */
async function client() {
  const { patchbayAdapter } = await import('../lib/patchbay-client.js')
  const { rawWsAdapter } = await import('../lib/raw-ws-client.js')
  const adapter = values.system === 'raw' ? rawWsAdapter(encoding, false) : patchbayAdapter(encoding)
  const held = []
  let next = 0
  // As the idle-memory scenario opens them: `--concurrency` at a time.
  async function opener() {
    while (next < connections) {
      const i = next++
      const c = await adapter.connect(/** @type {string} */ (values.url))
      if ((await c.add(i, 4)) !== i + 4) throw new Error('bad sum')
      held.push(c)
    }
  }
  await Promise.all(Array.from({ length: Number(values.concurrency) }, opener))
  process.send?.('ready')
  await new Promise((resolve) => process.once('message', resolve))
  process.exit(0)
}

async function server() {
  const gc = /** @type {(() => void) | undefined} */ (globalThis.gc)
  if (gc === undefined) throw new Error('run with --expose-gc')
  const started =
    values.system === 'raw'
      ? await (await import('../lib/raw-ws-server.js')).startRawWs(encoding, false, 'raw', {})
      : await (await import('../lib/patchbay-server.js')).startPatchbay(encoding, {})
  const dir = values.keep === undefined ? mkdtempSync(join(tmpdir(), 'idle-heap-')) : (mkdirSync(values.keep, { recursive: true }), values.keep)
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      gc()
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
  // One warm-up connection first, so that what every server makes once is in both snapshots.
  // (--no-warm: none, as the bench's idle-memory scenario measures.)
  const warm = !values['no-warm'] ? fork(new URL(import.meta.url), ['--role', 'client', '--system', String(values.system), '--encoding', encoding, '--connections', '1', '--url', `ws://127.0.0.1:${started.port}`]) : undefined
  if (warm !== undefined) await new Promise((resolve) => warm.once('message', resolve))
  await settle()
  const before = process.memoryUsage()
  const spacesBefore = getHeapSpaceStatistics()
  const a = values.spaces ? '' : writeHeapSnapshot(join(dir, 'before.heapsnapshot'))
  const child = fork(new URL(import.meta.url), ['--role', 'client', '--system', String(values.system), '--encoding', encoding, '--connections', String(connections), '--url', `ws://127.0.0.1:${started.port}`])
  await new Promise((resolve) => child.once('message', resolve))
  await settle()
  const after = process.memoryUsage()
  const spacesAfter = getHeapSpaceStatistics()
  const b = values.spaces ? '' : writeHeapSnapshot(join(dir, 'after.heapsnapshot'))
  const kib = (/** @type {number} */ bytes) => (bytes / connections / 1024).toFixed(2)
  console.log(`${values.system}-${encoding}, ${connections} connections, per connection:`)
  console.log(`  rss ${kib(after.rss - before.rss)} KiB, heapUsed ${kib(after.heapUsed - before.heapUsed)} KiB, external ${kib(after.external - before.external)} KiB, heapTotal ${kib(after.heapTotal - before.heapTotal)} KiB`)
  if (values.spaces) {
    for (const space of spacesAfter) {
      const was = spacesBefore.find((s) => s.space_name === space.space_name)
      if (was === undefined) continue
      console.log(`  ${space.space_name.padEnd(24)} before ${(was.space_size / 1048576).toFixed(1)} MiB, size ${kib(space.space_size - was.space_size).padStart(7)} KiB  used ${kib(space.space_used_size - was.space_used_size).padStart(7)} KiB  (now ${(space.space_size / 1048576).toFixed(1)} MiB)`)
    }
    child.send('stop')
    warm?.send('stop')
    await started.close()
    process.exit(0)
  }
  const diff = new Map()
  for (const [sign, file] of /** @type {const} */ ([[-1, a], [1, b]])) {
    for (const [key, { count, size }] of aggregate(file)) {
      const d = diff.get(key) ?? { count: 0, size: 0 }
      d.count += sign * count
      d.size += sign * size
      diff.set(key, d)
    }
  }
  child.send('stop')
  warm?.send('stop')
  const rows = [...diff].filter(([, d]) => d.count !== 0 || d.size !== 0).sort((x, y) => y[1].size - x[1].size)
  let total = 0
  for (const [, d] of rows) total += d.size
  console.log(`  snapshot self size: ${(total / connections).toFixed(0)} B per connection`)
  console.log('  bytes/conn  objs/conn  type:name')
  for (const [key, d] of rows.slice(0, Number(values.top))) {
    console.log(`  ${(d.size / connections).toFixed(1).padStart(9)}  ${(d.count / connections).toFixed(2).padStart(9)}  ${key}`)
  }
  if (values.keep === undefined) rmSync(dir, { recursive: true, force: true })
  await started.close()
  process.exit(0)
}

/**
 * Counts and self sizes of a snapshot's nodes, by type and name.
 * @param {string} file
 * @returns {Map<string, { count: number, size: number }>}
 */
function aggregate(file) {
  const snapshot = JSON.parse(readFileSync(file, 'utf8'))
  const fields = snapshot.snapshot.meta.node_fields
  const types = snapshot.snapshot.meta.node_types[0]
  const width = fields.length
  const typeAt = fields.indexOf('type')
  const nameAt = fields.indexOf('name')
  const sizeAt = fields.indexOf('self_size')
  const nodes = snapshot.nodes
  const strings = snapshot.strings
  const out = new Map()
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]]
    let name = type === 'string' || type === 'concatenated string' || type === 'sliced string' ? '(string)' : strings[nodes[i + nameAt]]
    if (type === 'code' || type === 'number' || type === 'hidden') name = name.slice(0, 60)
    const key = `${type}:${name}`
    const entry = out.get(key) ?? { count: 0, size: 0 }
    entry.count++
    entry.size += nodes[i + sizeAt]
    out.set(key, entry)
  }
  return out
}
