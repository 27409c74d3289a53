/**
 * The systems under test. Each has src/servers/<name>.js and src/loads/<name>.js; its
 * figures are compared with the raw ws baseline of the same encoding (plain, one write per
 * message). `topics` marks the systems with a fan-out (and slow-consumer) implementation,
 * `streams` those with a server-to-client stream (stream-throughput).
 */

/**
 * @typedef {object} System
 * @property {string} name
 * @property {'json' | 'msgpack'} encoding
 * @property {string} baseline the system its ratios are computed against
 * @property {boolean} topics has a fan-out implementation and a stalled subscriber
 * @property {boolean} streams has a server-to-client stream
 * @property {string[]} [requires] files (relative to the repo root) that must exist to run it
 * @property {string[]} [only] the scenarios it runs in (a diagnostic system); all when absent
 * @property {string} [server] the system whose script in servers/ it runs, when not its own
 * @property {string} [load] the system whose script in loads/ it runs, when not its own
 */

/** Patchbay runs from its build output (`npm run build` at the root). */
const PATCHBAY_BUILD = ['packages/server/dist/index.js', 'packages/client/dist/index.js']

/** @type {System[]} */
export const systems = [
  { name: 'ws-json', encoding: 'json', baseline: 'ws-json', topics: true, streams: true },
  { name: 'ws-json-cork', encoding: 'json', baseline: 'ws-json', topics: true, streams: true },
  {
    name: 'patchbay-json',
    encoding: 'json',
    baseline: 'ws-json',
    topics: true,
    streams: true,
    requires: PATCHBAY_BUILD,
  },
  {
    // Raw ws, coalesced, with the client's writes also flushed every 16 frames, as Patchbay's
    // Node client sends: what that alone does to the raw loop (rpc-throughput only).
    name: 'ws-json-cork-pipelined',
    encoding: 'json',
    baseline: 'ws-json',
    topics: false,
    streams: false,
    only: ['rpc-throughput'],
  },
  {
    // Raw ws, coalesced, speaking Patchbay's wire messages (the §3 arrays) and nothing more:
    // what the wire format costs by itself. Patchbay over this is the cost of Patchbay's own code.
    name: 'ws-json-cork-pbwire',
    encoding: 'json',
    baseline: 'ws-json',
    topics: true,
    streams: false,
    only: ['rpc-throughput', 'fan-out'],
  },
  {
    // Raw ws, coalesced, each broadcast's WebSocket frame built once and the same buffers
    // written to every member's socket (as engine.io broadcasts): the practical limit of a
    // fan-out on ws. Patchbay over this is what is left of its own cost (fan-out only).
    name: 'ws-json-cork-preframed',
    encoding: 'json',
    baseline: 'ws-json',
    topics: true,
    streams: false,
    only: ['fan-out'],
  },
  { name: 'socketio', encoding: 'json', baseline: 'ws-json', topics: true, streams: true },
  { name: 'trpc', encoding: 'json', baseline: 'ws-json', topics: true, streams: true },
  { name: 'ws-msgpack', encoding: 'msgpack', baseline: 'ws-msgpack', topics: true, streams: true },
  { name: 'ws-msgpack-cork', encoding: 'msgpack', baseline: 'ws-msgpack', topics: true, streams: true },
  {
    name: 'patchbay-msgpack',
    encoding: 'msgpack',
    baseline: 'ws-msgpack',
    topics: true,
    streams: true,
    requires: PATCHBAY_BUILD,
  },
  {
    name: 'ws-msgpack-cork-pipelined',
    encoding: 'msgpack',
    baseline: 'ws-msgpack',
    topics: false,
    streams: false,
    only: ['rpc-throughput'],
  },
  {
    name: 'ws-msgpack-cork-pbwire',
    encoding: 'msgpack',
    baseline: 'ws-msgpack',
    topics: true,
    streams: false,
    only: ['rpc-throughput', 'fan-out'],
  },
  {
    // Raw ws, coalesced, each broadcast's WebSocket frame built once and the same buffers
    // written to every member's socket (as engine.io broadcasts): the practical limit of a
    // fan-out on ws. Patchbay over this is what is left of its own cost (fan-out only).
    name: 'ws-msgpack-cork-preframed',
    encoding: 'msgpack',
    baseline: 'ws-msgpack',
    topics: true,
    streams: false,
    only: ['fan-out'],
  },
  { name: 'socketio-msgpack', encoding: 'msgpack', baseline: 'ws-msgpack', topics: true, streams: true },
  // Patchbay's RPC cost split by side (rpc-throughput only): `-pbwire` both sides with the
  // client pipelined as Patchbay's is, then Patchbay's server under that raw client, and
  // Patchbay's client against that raw server. Each against the first is one side's own code.
  { name: 'split-json-pbwire', encoding: 'json', baseline: 'ws-json', topics: false, streams: false, only: ['rpc-throughput'] },
  { name: 'split-json-server', encoding: 'json', baseline: 'ws-json', topics: false, streams: false, only: ['rpc-throughput'], requires: PATCHBAY_BUILD, server: 'patchbay-json', load: 'split-json-pbwire' },
  { name: 'split-json-client', encoding: 'json', baseline: 'ws-json', topics: false, streams: false, only: ['rpc-throughput'], requires: PATCHBAY_BUILD, server: 'split-json-pbwire', load: 'patchbay-json' },
  // Patchbay's RPC cost split by side (rpc-throughput only): `-pbwire` both sides with the
  // client pipelined as Patchbay's is, then Patchbay's server under that raw client, and
  // Patchbay's client against that raw server. Each against the first is one side's own code.
  { name: 'split-msgpack-pbwire', encoding: 'msgpack', baseline: 'ws-msgpack', topics: false, streams: false, only: ['rpc-throughput'] },
  { name: 'split-msgpack-server', encoding: 'msgpack', baseline: 'ws-msgpack', topics: false, streams: false, only: ['rpc-throughput'], requires: PATCHBAY_BUILD, server: 'patchbay-msgpack', load: 'split-msgpack-pbwire' },
  { name: 'split-msgpack-client', encoding: 'msgpack', baseline: 'ws-msgpack', topics: false, streams: false, only: ['rpc-throughput'], requires: PATCHBAY_BUILD, server: 'split-msgpack-pbwire', load: 'patchbay-msgpack' },
]

/**
 * The comparisons issue 6's targets are stated in, each reported as a paired ratio (see
 * run.js): Patchbay over the coalesced raw ws (the target), and that gap split in two, the
 * wire format alone (`-pbwire` over `-cork`) and Patchbay's code alone (over `-pbwire`).
 * In rpc-throughput also Patchbay over `-cork-pipelined`, the raw loop with the client's
 * writes flushed every 16 frames as Patchbay's client does, and what that alone does to raw.
 * In fan-out also Patchbay over `-cork-preframed` (each broadcast framed once), and what
 * framing once alone does to raw. Fan-out pairs its CPU figures too (run.js). And each side of
 * Patchbay alone over the raw loop speaking its wire (`split-*`, rpc-throughput).
 * @type {readonly (readonly [string, string])[]}
 */
export const pairs = ['json', 'msgpack'].flatMap((encoding) => [
  [`patchbay-${encoding}`, `ws-${encoding}-cork`],
  [`patchbay-${encoding}`, `ws-${encoding}-cork-pipelined`],
  [`ws-${encoding}-cork-pipelined`, `ws-${encoding}-cork`],
  [`ws-${encoding}-cork-pbwire`, `ws-${encoding}-cork`],
  [`patchbay-${encoding}`, `ws-${encoding}-cork-pbwire`],
  [`patchbay-${encoding}`, `ws-${encoding}-cork-preframed`],
  [`ws-${encoding}-cork-preframed`, `ws-${encoding}-cork`],
  [`split-${encoding}-server`, `split-${encoding}-pbwire`],
  [`split-${encoding}-client`, `split-${encoding}-pbwire`],
])
