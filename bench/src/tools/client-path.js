/**
 * The client's event path alone, with no socket and no server: frames of a fan-out event
 * (`{seq, body}`, an 80-character body, as in the bench's fan-out) are handed straight to the
 * client's frame handler, the way `ws` hands over a frame it has read. What it measures is
 * what each client does per event after the WebSocket layer: decode, check, dispatch to the
 * listener. `patchbay` is Patchbay's client (createClient, one subscription, `ws`'s 'message'
 * event path as in Node); `raw` is the raw ws baseline's handler (`{t, d}` decoded and handed
 * to the listener); `pbwire` is the same handler reading Patchbay's event
 * (`[10, ch, seq, data]`, docs/protocol.md §3) with no checks. CPU time per event (user + system), rounds
 * alternating between systems, medians; on a loaded machine the paired ratio is the figure.
 *
 * Usage: node src/tools/client-path.js [--encoding json|msgpack] [--rounds 9] [--events 500000]
 *   [--systems patchbay,pbwire,raw]
 * Run the same file from a checkout of another commit (its own built packages) to compare
 * two builds of the client, alternating the two processes.
 */
import { parseArgs } from 'node:util'
import { EventEmitter } from 'node:events'
import { createClient } from '@patchbay/client'
import { api } from '../lib/patchbay-api.js'
import { clientCodecs } from '../lib/client-codecs.js'
import { Tag, envelopeCodecs } from '../lib/envelope.js'
import { median, pairedMedian, spread } from '../lib/stats.js'

const { values } = parseArgs({
  options: {
    encoding: { type: 'string', default: 'msgpack' },
    rounds: { type: 'string', default: '9' },
    events: { type: 'string', default: '500000' },
    systems: { type: 'string', default: 'patchbay,pbwire,raw' },
  },
})
const encoding = /** @type {'json' | 'msgpack'} */ (values.encoding)
if (encoding !== 'json' && encoding !== 'msgpack') throw new Error('--encoding is json or msgpack')
const rounds = Number(values.rounds)
const events = Number(values.events)
const codec = envelopeCodecs[encoding]
const body = 'x'.repeat(80)
const FRAMES = 256

/**
 * A frame as `ws` hands it to a 'message' listener: a Buffer (binary), or a Buffer of UTF-8
 * (text, isBinary false).
 * @param {unknown} message
 */
function asWsData(message) {
  const encoded = codec.encode(message)
  return typeof encoded === 'string' ? Buffer.from(encoded) : Buffer.from(encoded)
}

/**
 * A stand-in for `ws`'s WebSocket: Patchbay's client listens to its 'message' event (the Node
 * path), it answers the client's `sub` itself, and `push` delivers a frame.
 */
class FakeSocket extends EventEmitter {
  /** @type {FakeSocket | undefined} */
  static last
  readyState = 1
  bufferedAmount = 0
  binaryType = 'nodebuffer'
  /** @type {((event: unknown) => void) | null} */ onopen = null
  /** @type {((event: unknown) => void) | null} */ onmessage = null
  /** @type {((event: unknown) => void) | null} */ onclose = null
  /** @type {((event: unknown) => void) | null} */ onerror = null
  /** @param {string} _url @param {string[]} protocols */
  constructor(_url, protocols) {
    super()
    this.protocol = /** @type {string} */ (protocols[0])
    FakeSocket.last = this
    setImmediate(() => this.onopen?.({}))
  }
  /** @param {string | Uint8Array} data */
  send(data) {
    const message = codec.decode(Buffer.from(typeof data === 'string' ? Buffer.from(data) : data))
    if (message[0] === Tag.SUB) {
      setImmediate(() => this.push(asWsData([Tag.RESULT, message[1], { ch: 1, seq: 0, epoch: 'e.1' }]), encoding === 'msgpack'))
    }
  }
  /** @param {Buffer} data @param {boolean} isBinary */
  push(data, isBinary) {
    this.emit('message', data, isBinary)
  }
  close() {
    setImmediate(() => this.onclose?.({ code: 1000, reason: '' }))
  }
}

const isBinary = encoding === 'msgpack'

/**
 * Patchbay's client subscribed to `feed`; returns a function that delivers event `seq`.
 * @param {() => void} onEvent
 */
async function patchbay(onEvent) {
  const client = createClient(api, { url: 'ws://127.0.0.1:1', WebSocket: /** @type {any} */ (FakeSocket), encodings: [clientCodecs[encoding]], reconnect: false, pingInterval: 0 })
  const off = client.feed.subscribe({ topic: 'bench' }, onEvent)
  await off.ready
  const socket = /** @type {FakeSocket} */ (FakeSocket.last)
  let seq = 0
  return {
    /** One event, with the next seq (frames are made ahead, outside the clock). */
    prepare(/** @type {number} */ count) {
      const made = []
      for (let i = 0; i < count; i++) {
        seq++
        made.push(asWsData([Tag.EVENT, 1, seq, { seq, body }]))
      }
      return made
    },
    /** @param {Buffer} frame */
    deliver(frame) {
      socket.push(frame, isBinary)
    },
    close: () => client.close(),
  }
}

/**
 * The raw ws client's handler (lib/raw-ws-client.js): decode, hand `d` (or element 3 of
 * Patchbay's event, its data) to the listener.
 * @param {() => void} onEvent
 * @param {'raw' | 'pbwire'} wire
 */
async function raw(onEvent, wire) {
  const socket = new EventEmitter()
  /** @type {((data: unknown) => void) | undefined} */
  const onTopic = onEvent
  socket.on('message', (data) => {
    const message = codec.decode(/** @type {Buffer} */ (data))
    if (wire === 'pbwire') {
      if (message[0] === Tag.EVENT) onTopic?.(message[3])
      return
    }
    if (message.t !== undefined) onTopic?.(message.d)
  })
  let seq = 0
  return {
    prepare(/** @type {number} */ count) {
      const made = []
      for (let i = 0; i < count; i++) {
        seq++
        made.push(asWsData(wire === 'raw' ? { t: 'bench', d: { seq, body } } : [Tag.EVENT, 1, seq, { seq, body }]))
      }
      return made
    },
    /** @param {Buffer} frame */
    deliver(frame) {
      socket.emit('message', frame, isBinary)
    },
    close: async () => {},
  }
}

/** @type {Record<string, (onEvent: () => void) => Promise<{ prepare(count: number): Buffer[], deliver(frame: Buffer): void, close(): Promise<unknown> }>>} */
const systems = {
  patchbay,
  pbwire: (onEvent) => raw(onEvent, 'pbwire'),
  raw: (onEvent) => raw(onEvent, 'raw'),
}
const names = /** @type {string} */ (values.systems).split(',')
for (const name of names) if (systems[name] === undefined) throw new Error(`unknown system ${name}`)

/**
 * Delivers `events` events in batches of FRAMES (made before each batch, outside the clock),
 * after a warmup of as many; CPU µs per event.
 * @param {string} name
 */
async function round(name) {
  let received = 0
  const system = await /** @type {NonNullable<typeof systems[string]>} */ (systems[name])(() => received++)
  const run = () => {
    let cpu = 0
    for (let done = 0; done < events; done += FRAMES) {
      const frames = system.prepare(FRAMES)
      const start = process.cpuUsage()
      for (const frame of frames) system.deliver(frame)
      const used = process.cpuUsage(start)
      cpu += used.user + used.system
    }
    return cpu
  }
  run()
  const cpu = run()
  await system.close()
  if (received < 2 * events) throw new Error(`${name} received ${received} of ${2 * events} events`)
  return { cpuPerEvent: cpu / events }
}

/** @type {Record<string, { cpuPerEvent: number }[]>} */
const results = Object.fromEntries(names.map((name) => [name, []]))
for (let r = 0; r < rounds; r++) {
  for (const name of names) results[name]?.push(await round(name))
  process.stderr.write('.')
}
process.stderr.write('\n')
const firstRuns = results[/** @type {string} */ (names.at(-1))] ?? []
console.log(`client event path, ${encoding}, ${events} events a round, ${rounds} rounds; CPU ns per event, medians; ratio paired to ${names.at(-1)}`)
console.log('system          ns/event  spread      ×')
for (const name of names) {
  const runs = results[name] ?? []
  const ns = runs.map((x) => x.cpuPerEvent * 1000)
  const ratio = pairedMedian(runs, firstRuns, (x, y) => x.cpuPerEvent / y.cpuPerEvent)
  console.log(`${name.padEnd(14)} ${median(ns).toFixed(0).padStart(9)} ${`±${Math.round(spread(ns) * 100)}%`.padStart(7)} ${ratio.toFixed(2).padStart(6)}`)
}
