/**
 * stream-throughput's shared shapes: the item every system streams, and the producers'
 * defaults where flow control is hand-written (raw ws, socket.io, tRPC).
 */

/** Bytes buffered in the server's socket above which a hand-written producer waits for drain. */
export const STREAM_HIGH_WATER = 1_048_576
/** Items a hand-written producer sends per macrotask before it lets the event loop run. */
export const STREAM_BATCH = 256

/**
 * @typedef {object} StreamItem
 * @property {number} n 0, 1, 2… (the consumer checks the order)
 * @property {number} ts Date.now() when the server made it
 */

/** @param {number} n @returns {StreamItem} */
export const streamItem = (n) => ({ n, ts: Date.now() })
