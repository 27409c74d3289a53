/**
 * What keeping msgpackr's `undefined` extension off the wire costs an encode (docs/protocol.md
 * §9, packages/core/src/msgpack-write.ts): @patchbay/core's `encodeMsgpack` (the fast packr
 * and a token walk of the frame) against the ways weighed for it, per message, in one
 * process, no sockets:
 * - `fast`: msgpackr's fast packr alone, the floor (it writes the extension: not a choice);
 * - `scan`: the fast packr, then a search of the frame's bytes for `d4 00 00` and a second
 *   encode where found (what Patchbay did before);
 * - `json-like`: every frame written by the packr with skipValues [undefined] and
 *   encodeUndefinedAsNil;
 * - `value`: a walk of the value (arrays, plain objects) for an undefined before encoding;
 * - `patchbay`: @patchbay/core's server encoder (its client keeps `scan`, for its bundle's size).
 * Variants alternate chunk by chunk (rotating who goes first) in every round; per-op wall ns,
 * medians over rounds, and each variant's median paired ratio to `scan` in the same round.
 *
 * Usage: node src/tools/msgpack-write.js [--rounds 41] [--only result,event,...]
 */
import { parseArgs } from 'node:util'
import { Packr } from 'msgpackr'
import { msgpackServerCodec } from '@patchbay/core/msgpack'
import { median } from '../lib/stats.js'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '41' }, only: { type: 'string' } } })
const rounds = Number(values.rounds)

const packr = new Packr({ useRecords: false, moreTypes: false })
// skipValues is read by msgpackr but missing from its types.
const jsonLike = new Packr(/** @type {import('msgpackr').Options} */ ({ useRecords: false, moreTypes: false, skipValues: [undefined], encodeUndefinedAsNil: true }))

/** @param {Uint8Array} frame the old byte search (msgpack-write.ts before session 8) */
function scan(frame) {
  if (frame.length <= 48) {
    for (let at = 0; at < frame.length - 2; at++) if (frame[at] === 0xd4 && frame[at + 1] === 0 && frame[at + 2] === 0) return true
    return false
  }
  for (let at = frame.indexOf(0xd4); at !== -1; at = frame.indexOf(0xd4, at + 1)) if (frame[at + 1] === 0 && frame[at + 2] === 0) return true
  return false
}

/** @param {unknown} value */
function holds(value) {
  if (value === undefined) return true
  if (typeof value !== 'object') return typeof value === 'function'
  if (value === null) return false
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (holds(value[i])) return true
    return false
  }
  if (value.constructor === Object) {
    const object = /** @type {Record<string, unknown>} */ (value)
    for (const key in object) if (holds(object[key])) return true
    return false
  }
  return !(value.constructor === Uint8Array)
}

/** @type {Record<string, (message: unknown) => Uint8Array>} */
const variants = {
  fast: (message) => packr.pack(message),
  scan: (message) => {
    const frame = packr.pack(message)
    return scan(frame) ? jsonLike.pack(message) : frame
  },
  'json-like': (message) => jsonLike.pack(message),
  value: (message) => (holds(message) ? jsonLike.pack(message) : packr.pack(message)),
  patchbay: (message) => /** @type {Uint8Array} */ (msgpackServerCodec.encode(message)),
}

const body = 'x'.repeat(80)
const MiB = 1 << 20
const zeros = new Uint8Array(MiB)
const zerosD4 = new Uint8Array(MiB)
zerosD4.set([0xd4, 0, 0], MiB / 2)
const random = new Uint8Array(MiB)
for (let at = 0; at < MiB; at += 65536) crypto.getRandomValues(random.subarray(at, at + 65536))
const text = 'abcdefgh'.repeat(MiB / 8)
/** 2,000 rows of five fields; scores `1.5 * i`, floats whose bytes often end d4 00 00. */
const rows = Array.from({ length: 2000 }, (_, i) => ({ id: i, name: `user${i}`, email: `u${i}@example.com`, active: i % 2 === 0, score: i * 1.5 }))
const rowsInt = rows.map((row) => ({ ...row, score: row.id * 3 }))

/** Each message by name: a maker for id/seq `i`, and ops per timed chunk. */
/** @type {Record<string, [(i: number) => unknown, number]>} */
const messages = {
  result: [(i) => [2, i, 3], 4096],
  event: [(i) => [10, 1, i, { seq: i, body }], 2048],
  item: [(i) => [14, i, { user: { id: i, name: 'ann', tags: ['a', 'b'] }, lines: [{ sku: 'x', n: 1 }, { sku: 'y', n: 2 }] }], 1024],
  'bin-1m-zeros': [(i) => [2, i, zeros], 8],
  'bin-1m-zeros-d4': [(i) => [2, i, zerosD4], 8],
  'bin-1m-random': [(i) => [2, i, random], 8],
  'str-1m': [(i) => [2, i, text], 8],
  'nested-bin-1m-zeros': [(i) => [2, i, { name: 'a', bytes: zeros }], 8],
  'nested-bin-1m-random': [(i) => [2, i, { name: 'a', bytes: random }], 8],
  'nested-str-1m': [(i) => [2, i, { name: 'a', text }], 8],
  'rows-floats': [(i) => [2, i, rows], 4],
  'rows-ints': [(i) => [2, i, rowsInt], 4],
}
const names = values.only === undefined ? Object.keys(messages) : values.only.split(',')
const variantNames = Object.keys(variants)

/** @type {Map<string, number[]>} ns per op, by `message|variant`, one entry per round */
const results = new Map()
let sink = 0
for (let r = 0; r <= rounds; r++) {
  for (const name of names) {
    const entry = messages[name]
    if (entry === undefined) throw new Error(`unknown message ${name}`)
    const [make, ops] = entry
    const batch = Array.from({ length: ops }, (_, i) => make(r * ops + i))
    for (let v = 0; v < variantNames.length; v++) {
      const variant = /** @type {string} */ (variantNames[(v + r) % variantNames.length])
      const encode = /** @type {(message: unknown) => Uint8Array} */ (variants[variant])
      const start = process.hrtime.bigint()
      for (let i = 0; i < ops; i++) sink += encode(batch[i]).length
      const ns = Number(process.hrtime.bigint() - start) / ops
      // Round 0 warms every path up.
      if (r > 0) results.set(`${name}|${variant}`, [...(results.get(`${name}|${variant}`) ?? []), ns])
    }
  }
  process.stderr.write('.')
}
process.stderr.write('\n')
if (sink === 0) throw new Error('nothing encoded')

console.log(`msgpack write, ${rounds} rounds, variants alternating; wall ns per encode, medians, and (paired ratio to scan)`)
console.log(`${'message'.padEnd(16)} ${variantNames.map((name) => name.padStart(20)).join(' ')}`)
for (const name of names) {
  const base = results.get(`${name}|scan`) ?? []
  const cells = variantNames.map((variant) => {
    const runs = results.get(`${name}|${variant}`) ?? []
    const ratio = median(runs.map((ns, i) => ns / /** @type {number} */ (base[i])))
    const ns = median(runs)
    const shown = ns >= 10_000 ? `${(ns / 1000).toFixed(1)} µs` : `${ns.toFixed(0)} ns`
    return `${shown} (${ratio.toFixed(2)})`.padStart(20)
  })
  console.log(`${name.padEnd(16)} ${cells.join(' ')}`)
}
