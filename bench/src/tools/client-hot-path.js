/**
 * The client's call path alone, with no socket: Patchbay's Node client (`createClient`, as the
 * bench's load makes it) over a socket object that keeps what it is sent, against the raw
 * loop's client for the same calls (`-pbwire`: a Map of resolvers, encode, decode). Both get
 * their replies the same way: 64 calls are made, their frames read back, and a `[2, id, sum]`
 * frame (a fresh Buffer, as ws hands one over) given to the client for each, in order, as a
 * server would answer; the cost of reading the calls and making the replies is the same for
 * both and in both figures. No syscalls and no other process: what is left is each client's
 * own code per call. For changes to that path; not a benchmark of record.
 *
 * Usage: node src/tools/client-hot-path.js [--encoding msgpack|json] [--rounds 7]
 *   [--calls 200000] [--only raw|patchbay]
 */
import { parseArgs } from 'node:util'
import { Packr, Unpackr } from 'msgpackr'
import { createClient } from '@patchbay/client'
import { api } from '../lib/patchbay-api.js'
import { clientCodecs } from '../lib/client-codecs.js'
import { median } from '../lib/stats.js'

const { values } = parseArgs({
  options: {
    encoding: { type: 'string', default: 'msgpack' },
    rounds: { type: 'string', default: '7' },
    calls: { type: 'string', default: '200000' },
    only: { type: 'string' },
  },
})
const encoding = /** @type {'json' | 'msgpack'} */ (values.encoding)
const rounds = Number(values.rounds)
const calls = Number(values.calls)
const IN_FLIGHT = 64

const packr = new Packr({ useRecords: false, moreTypes: false })
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, structuredClone: false })
/** @type {(value: unknown) => string | Buffer} */
const encode = encoding === 'json' ? (value) => JSON.stringify(value) : (value) => packr.pack(value)
/** @type {(frame: string | Uint8Array) => any} */
const decode = encoding === 'json' ? (frame) => JSON.parse(String(frame)) : (frame) => unpackr.unpack(/** @type {Uint8Array} */ (frame))

/**
 * What both clients write to and read from: `ws`'s surface as Patchbay's client uses it
 * (the `on('message')` event with the text/binary flag), with no network behind it.
 */
class LoopSocket {
  readyState = 0
  protocol = `patchbay.v1.${encoding}`
  bufferedAmount = 0
  binaryType = 'nodebuffer'
  /** @type {((event: never) => void) | null} */ onopen = null
  /** @type {((event: never) => void) | null} */ onmessage = null
  /** @type {((event: never) => void) | null} */ onclose = null
  /** @type {((event: never) => void) | null} */ onerror = null
  /** @type {(string | Uint8Array)[]} frames sent since last read */
  outbox = []
  /** @type {((data: any, isBinary: boolean) => void) | undefined} */
  listener
  constructor() {
    setImmediate(() => {
      this.readyState = 1
      this.onopen?.(/** @type {never} */ ({}))
    })
  }
  /** @param {string} event @param {(...args: any[]) => void} listener */
  on(event, listener) {
    if (event === 'message') this.listener = listener
  }
  /** @param {string | Uint8Array} data */
  send(data) {
    this.outbox.push(data)
  }
  close() {}
  /** Answers every call sent so far, in order, as a server would. */
  answer() {
    const frames = this.outbox
    this.outbox = []
    for (const frame of frames) {
      const call = decode(frame)
      const reply = encode([2, call[1], call[4].a + call[4].b])
      // A fresh Buffer per reply, text as a Buffer too: what ws's 'message' gives.
      this.listener?.(typeof reply === 'string' ? Buffer.from(reply) : Buffer.from(reply), encoding !== 'json')
    }
  }
}

/** @type {LoopSocket | undefined} */
let socket
const WebSocket = /** @type {any} */ (
  class extends LoopSocket {
    constructor() {
      super()
      // eslint-disable-next-line @typescript-eslint/no-this-alias -- the tool drives the one socket the client makes
      socket = this
    }
  }
)
// As the bench's load makes it (bench/src/lib/patchbay-client.js).
const client = createClient(api, { url: 'ws://127.0.0.1:1/', WebSocket, encodings: [clientCodecs[encoding]] })
await new Promise((resolve) => setTimeout(resolve, 10))
const patchbaySocket = /** @type {LoopSocket} */ (socket)

/** The raw loop's client (bench/src/lib/raw-ws-client.js with `wire: 'patchbay'`). */
const rawSocket = new LoopSocket()
/** @type {Map<number, (value: any) => void>} */
const pending = new Map()
let nextId = 1
rawSocket.listener = (/** @type {Uint8Array} */ data) => {
  const message = decode(data)
  const resolve = pending.get(message[1])
  pending.delete(message[1])
  resolve?.(message[2])
}
/** @param {number} a @param {number} b */
function rawAdd(a, b) {
  const id = nextId++
  return new Promise((resolve) => {
    pending.set(id, resolve)
    rawSocket.send(encode([1, id, 'math.add', null, { a, b }]))
  })
}

/** @type {Record<string, { add: (a: number, b: number) => Promise<unknown>, socket: LoopSocket }>} */
const systems = {
  raw: { add: rawAdd, socket: rawSocket },
  patchbay: { add: (a, b) => client.math.add({ a, b }), socket: patchbaySocket },
}

/** CPU ns per call of one round. */
async function round(/** @type {{ add: (a: number, b: number) => Promise<unknown>, socket: LoopSocket }} */ system) {
  const t0 = process.cpuUsage()
  /** @type {Promise<unknown>[]} */
  const batch = new Array(IN_FLIGHT)
  for (let done = 0; done < calls; done += IN_FLIGHT) {
    for (let i = 0; i < IN_FLIGHT; i++) batch[i] = system.add(done + i, 3)
    system.socket.answer()
    const sums = await Promise.all(batch)
    if (sums[IN_FLIGHT - 1] !== done + IN_FLIGHT - 1 + 3) throw new Error(`wrong sum ${String(sums[IN_FLIGHT - 1])}`)
  }
  const used = process.cpuUsage(t0)
  return ((used.user + used.system) * 1000) / calls
}

/** @type {Record<string, number[]>} */
const results = { raw: [], patchbay: [] }
for (let r = -1; r < rounds; r++) {
  for (const [name, system] of Object.entries(systems)) {
    if (values.only !== undefined && values.only !== name) continue
    const ns = await round(system)
    if (r >= 0) results[name]?.push(ns)
  }
}
const rawNs = median(results.raw ?? [])
const pbNs = median(results.patchbay ?? [])
console.log(`client call path, ${encoding}, ${calls} calls × ${rounds} rounds, ${IN_FLIGHT} in flight; median CPU ns per call (the replies' making included in both)`)
console.log(`raw ${rawNs.toFixed(0)} ns, patchbay ${pbNs.toFixed(0)} ns, patchbay − raw ${(pbNs - rawNs).toFixed(0)} ns (${(pbNs / rawNs).toFixed(2)}×)`)
client.close()
