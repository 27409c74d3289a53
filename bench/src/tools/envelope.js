/**
 * The envelope alone: v1's messages as the wire has them since session 8 (docs/protocol.md §3:
 * positional arrays, `[tag, ...fields]`, lib/envelope.js `Tag`) against the same messages
 * as maps with a `t` field (`{ t: 'call', id, path, input }`: the pre-release draft of v1,
 * which the arrays replaced) and, in MessagePack, against msgpackr records (the draft's maps,
 * each shape written once per connection and then as a record id: `sequential`, a stream's
 * structures kept by both ends). Per message of the bench's scenarios (a call of add and its
 * result, a fan-out event): bytes, and CPU ns to encode and to decode it with
 * @patchbay/core's codecs (msgpack frames through its scratch-buffer decoder; records through
 * a msgpackr pair of their own). No sockets: what each envelope costs the codec, side by
 * side, rounds alternating, medians of CPU time.
 *
 * Usage: node src/tools/envelope.js [--rounds 9] [--count 200000]
 */
import { parseArgs } from 'node:util'
import { Packr, Unpackr } from 'msgpackr'
import { jsonCodec } from '@patchbay/core'
import { msgpackServerCodec } from '@patchbay/core/msgpack'
import { Tag } from '../lib/envelope.js'

/** Patchbay's wire codecs (the server's; the client's differ only on frames that do not decode). */
const codecs = { json: jsonCodec, msgpack: msgpackServerCodec }
import { median, spread } from '../lib/stats.js'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '9' }, count: { type: 'string', default: '200000' } } })
const rounds = Number(values.rounds)
const count = Number(values.count)
const body = 'x'.repeat(80)
const N = 256

/** The messages, by kind, for id/seq `i`, in each envelope. */
const messages = {
  call: {
    maps: (/** @type {number} */ i) => ({ t: 'call', id: i, path: 'math.add', input: { a: i, b: 1 } }),
    // §4: `[1, id, path, meta, input]`, meta null as Patchbay's client writes it without options.
    v1: (/** @type {number} */ i) => [Tag.CALL, i, 'math.add', null, { a: i, b: 1 }],
  },
  result: {
    maps: (/** @type {number} */ i) => ({ t: 'result', id: i, output: i + 1 }),
    v1: (/** @type {number} */ i) => [Tag.RESULT, i, i + 1],
  },
  event: {
    maps: (/** @type {number} */ i) => ({ t: 'event', ch: 1, seq: i, data: { seq: i, body } }),
    v1: (/** @type {number} */ i) => [Tag.EVENT, 1, i, { seq: i, body }],
  },
}

/**
 * A codec under test: `encode` and `decode` as one connection's two ends would call them.
 * @typedef {{ encode(message: unknown): string | Uint8Array, decode(frame: string | Uint8Array): unknown }} Pair
 */

/** @returns {Pair} msgpackr records, structures kept per connection (sequential) */
function recordsPair() {
  const packr = new Packr({ useRecords: true, sequential: true, moreTypes: false })
  const unpackr = new Unpackr({ useRecords: true, sequential: true, mapsAsObjects: true, structuredClone: false })
  return { encode: (message) => packr.pack(message), decode: (frame) => unpackr.unpack(/** @type {Uint8Array} */ (frame)) }
}

/** @type {{ name: string, encoding: 'json' | 'msgpack', envelope: 'maps' | 'v1', pair: () => Pair }[]} */
const variants = [
  { name: 'json maps (draft)', encoding: 'json', envelope: 'maps', pair: () => codecs.json },
  { name: 'json v1 (positional)', encoding: 'json', envelope: 'v1', pair: () => codecs.json },
  { name: 'msgpack maps (draft)', encoding: 'msgpack', envelope: 'maps', pair: () => codecs.msgpack },
  { name: 'msgpack v1 (positional)', encoding: 'msgpack', envelope: 'v1', pair: () => codecs.msgpack },
  { name: 'msgpack maps records', encoding: 'msgpack', envelope: 'maps', pair: recordsPair },
]

/** @param {string | Uint8Array} frame */
const bytesOf = (frame) => (typeof frame === 'string' ? Buffer.byteLength(frame) : frame.byteLength)

/**
 * One round of one variant and kind: CPU ns per encode and per decode, and bytes per frame.
 * @param {(typeof variants)[number]} variant
 * @param {keyof typeof messages} kind
 */
function round(variant, kind) {
  const pair = variant.pair()
  const make = messages[kind][variant.envelope]
  let encodeCpu = 0
  let decodeCpu = 0
  let bytes = 0
  let sink = 0
  // The first frame of a records stream carries the structure: left out, as a connection's would be.
  pair.decode(pair.encode(make(0)))
  for (let done = 0; done < count; done += N) {
    const batch = Array.from({ length: N }, (_, j) => make(done + j + 1))
    const frames = new Array(N)
    let start = process.cpuUsage()
    for (let j = 0; j < N; j++) frames[j] = pair.encode(batch[j])
    let used = process.cpuUsage(start)
    encodeCpu += used.user + used.system
    start = process.cpuUsage()
    for (let j = 0; j < N; j++) if (pair.decode(frames[j]) !== undefined) sink++
    used = process.cpuUsage(start)
    decodeCpu += used.user + used.system
    for (const frame of frames) bytes += bytesOf(frame)
  }
  if (sink !== count + (N - (count % N || N))) throw new Error('lost frames')
  const made = Math.ceil(count / N) * N
  return { encode: (encodeCpu * 1000) / made, decode: (decodeCpu * 1000) / made, bytes: bytes / made }
}

const kinds = /** @type {(keyof typeof messages)[]} */ (Object.keys(messages))
/** @type {Map<string, { encode: number, decode: number, bytes: number }[]>} */
const results = new Map()
for (let r = 0; r < rounds + 1; r++) {
  for (const kind of kinds) {
    for (const variant of variants) {
      const key = `${kind}|${variant.name}`
      const result = round(variant, kind)
      // Round 0 warms every path up.
      if (r > 0) results.set(key, [...(results.get(key) ?? []), result])
    }
  }
  process.stderr.write('.')
}
process.stderr.write('\n')
console.log(`envelope, ${count} messages a round, ${rounds} rounds; CPU ns per message (user + system), medians (spread)`)
console.log('maps: the pre-release draft of v1 ({ t: "call", id, path, input }); v1: the wire, positional arrays ([1, id, path, null, input])')
console.log('message  variant                    bytes   encode ns        decode ns')
for (const kind of kinds) {
  for (const variant of variants) {
    const runs = results.get(`${kind}|${variant.name}`) ?? []
    const enc = runs.map((x) => x.encode)
    const dec = runs.map((x) => x.decode)
    const cell = (/** @type {number[]} */ xs) => `${median(xs).toFixed(0).padStart(5)} ±${Math.round(spread(xs) * 100)}%`.padEnd(16)
    console.log(`${kind.padEnd(8)} ${variant.name.padEnd(25)} ${median(runs.map((x) => x.bytes)).toFixed(0).padStart(6)}   ${cell(enc)} ${cell(dec)}`)
  }
}
