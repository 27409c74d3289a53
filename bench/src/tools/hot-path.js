/**
 * The server's call path alone, with no socket: frames of `math.add` go straight into a real
 * Session of the bench's server (createServer with bench/src/lib/patchbay-server.js's
 * options) over a transport that keeps nothing, against the raw loop's own work for the same
 * frame (`-pbwire`: decode, add, encode). No syscalls, no event loop, no other process: what
 * is left is Patchbay's code per call, to a few nanoseconds, in a second. For changes to that
 * path; not a benchmark of record (`npm run bench` is).
 *
 * Usage: node src/tools/hot-path.js [--encoding msgpack|json] [--rounds 7] [--calls 300000]
 *   [--only raw|patchbay] (one system alone, e.g. under `node --cpu-prof --cpu-prof-interval 25`)
 */
import { parseArgs } from 'node:util'
import { Packr, Unpackr } from 'msgpackr'
import { createServer } from '@patchbay/server'
import { hostOf } from '../../../packages/server/dist/session-host.js'
import { codecs } from '../../../packages/server/dist/codecs.js'
import { api } from '../lib/patchbay-api.js'
import { median } from '../lib/stats.js'

const { values } = parseArgs({
  options: {
    encoding: { type: 'string', default: 'msgpack' },
    rounds: { type: 'string', default: '7' },
    calls: { type: 'string', default: '300000' },
    only: { type: 'string' },
    // Another build of @patchbay/server (its package directory, e.g. a copy of an earlier
    // packages/server with dist/), run as system "base" beside this one: an A/B of a change.
    base: { type: 'string' },
  },
})
const encoding = /** @type {'json' | 'msgpack'} */ (values.encoding)
const rounds = Number(values.rounds)
const calls = Number(values.calls)

const packr = new Packr({ useRecords: false, moreTypes: false })
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, structuredClone: false })
/** @type {(value: unknown) => string | Uint8Array} */
const encode = encoding === 'json' ? (value) => JSON.stringify(value) : (value) => packr.pack(value)
/** @type {(frame: string | Uint8Array) => any} */
const decode = encoding === 'json' ? (frame) => JSON.parse(String(frame)) : (frame) => unpackr.unpack(/** @type {Uint8Array} */ (frame))

// 1,024 distinct calls, as a client sends them: ids counting up, small operands.
const frames = Array.from({ length: 1024 }, (_, i) => {
  const frame = encode([1, i + 1, 'math.add', null, { a: i, b: 3 }])
  // Frames arrive as fresh Buffers from ws; a Buffer here too, for the codec's paths.
  return typeof frame === 'string' ? frame : Buffer.from(frame)
})

let sent = 0
let bytes = 0
/** A transport that takes every frame at once and keeps none. */
const transport = {
  /** @param {string | Uint8Array} frame */
  send(frame) {
    sent++
    bytes += typeof frame === 'string' ? frame.length : frame.byteLength
  },
  bufferedAmount: 0,
  bufferedFrames: 0,
  pause() {},
  resume() {},
  /** @param {() => void} listener */
  onceDrained(listener) {
    listener()
  },
  close() {},
  shutdown: () => Promise.resolve(),
}

/** @type {import('@patchbay/server').ServerOptions<typeof api, unknown>} */
const options = {
  encodings: [encoding],
  rateLimit: { perSecond: 1_000_000_000, burst: 1_000_000_000 },
  handlers: {
    math: { add: ({ input }) => input.a + input.b },
    blob: { text: ({ input }) => input, bytes: ({ input }) => input },
    async *ticks() {},
  },
}
/**
 * A session of a server made by one build of @patchbay/server.
 * @param {{ createServer: typeof createServer }} build
 * @param {{ hostOf: typeof hostOf }} seam
 */
function sessionOf(build, seam) {
  const server = build.createServer(api, options)
  const opened = seam.hostOf(server).accept(transport, codecs[encoding], undefined, { id: 'hot-path', encoding }, undefined)
  // The connection's record (its session inside), or, from builds before 2026-11-30, the session.
  return /** @type {{ receive(frame: unknown): void }} */ ('session' in opened ? opened.session : opened)
}
const session = sessionOf({ createServer }, { hostOf })

/** The raw loop's handler (bench/src/lib/raw-ws-server.js, `-pbwire`) for the same frame. */
function raw(/** @type {string | Uint8Array} */ frame) {
  const message = decode(frame)
  transport.send(encode([2, message[1], message[4].a + message[4].b]))
}

/** @type {Record<string, (frame: string | Uint8Array) => void>} */
const systems = {
  raw,
  patchbay: (frame) => session.receive(/** @type {any} */ (frame)),
}
if (values.base !== undefined) {
  const build = await import(`${values.base}/dist/index.js`)
  const seam = await import(`${values.base}/dist/session-host.js`)
  const base = sessionOf(build, seam)
  systems.base = (frame) => base.receive(/** @type {any} */ (frame))
}

/** CPU ns per call of one round. */
function round(/** @type {(frame: string | Uint8Array) => void} */ handle) {
  const before = sent
  const t0 = process.cpuUsage()
  // Each frame a fresh Buffer, as ws hands them over (msgpackr keeps a DataView on a buffer
  // it has read: a reused one would flatter whichever side does not copy); the copy costs
  // both sides the same.
  if (encoding === 'json') for (let i = 0; i < calls; i++) handle(/** @type {string} */ (frames[i & 1023]))
  else for (let i = 0; i < calls; i++) handle(Buffer.from(/** @type {Uint8Array} */ (frames[i & 1023])))
  const used = process.cpuUsage(t0)
  if (sent - before !== calls) throw new Error(`${sent - before} replies for ${calls} calls`)
  return ((used.user + used.system) * 1000) / calls
}

/** @type {Record<string, number[]>} */
const results = Object.fromEntries(Object.keys(systems).map((name) => [name, []]))
for (let r = -1; r < rounds; r++) {
  for (const [name, handle] of Object.entries(systems)) {
    // --only patchbay: one system's rounds alone, for a CPU profile of it.
    if (values.only !== undefined && values.only !== name) continue
    const ns = round(handle)
    // Round -1 warms both up (JIT); it is not counted.
    if (r >= 0) results[name]?.push(ns)
  }
}
const rawNs = median(results.raw ?? [])
const pbNs = median(results.patchbay ?? [])
console.log(`server call path, ${encoding}, ${calls} calls × ${rounds} rounds; median CPU ns per call`)
console.log(`raw ${rawNs.toFixed(0)} ns, patchbay ${pbNs.toFixed(0)} ns, patchbay − raw ${(pbNs - rawNs).toFixed(0)} ns (${(pbNs / rawNs).toFixed(2)}×); reply ${(bytes / sent).toFixed(1)} B`)
if (results.base !== undefined) {
  const baseNs = median(results.base)
  // Paired: each round's difference, so a slow spell of the machine hits both alike.
  const diffs = results.base.map((ns, i) => (results.patchbay?.[i] ?? NaN) - ns)
  console.log(`base ${baseNs.toFixed(0)} ns; patchbay − base ${median(diffs).toFixed(0)} ns per call (median of paired rounds)`)
}
