/**
 * A preload that counts, for the whole process, socket reads (chunks pushed by net.Socket),
 * `writev` and `write` calls, buffers per `writev` and bytes written, and writes them as JSON
 * to `$SOCKET_COUNTS_DIR/<pid>.json` at exit. It shows how two systems batch their I/O:
 * `SOCKET_COUNTS_DIR=/tmp/counts BENCH_NODE_ARGS="--import ./src/tools/socket-counts.js"
 * node src/run.js --runs 1 --scenarios rpc-throughput --systems ws-msgpack-cork-pbwire,patchbay-msgpack`.
 */
import net from 'node:net'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const counts = { reads: 0, readBytes: 0, writev: 0, writevBuffers: 0, write: 0, bytesWritten: 0 }
/** @param {unknown} chunk */
const lengthOf = (chunk) => (typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk instanceof Uint8Array ? chunk.byteLength : 0)

// These are net.Socket's own stream hooks; wrapping them changes nothing but the counts.
const proto = /** @type {any} */ (net.Socket.prototype)
const writev = proto._writev
proto._writev = function (/** @type {{ chunk: unknown }[]} */ chunks, /** @type {unknown} */ callback) {
  counts.writev++
  counts.writevBuffers += chunks.length
  for (const entry of chunks) counts.bytesWritten += lengthOf(entry.chunk)
  return writev.call(this, chunks, callback)
}
const write = proto._write
proto._write = function (/** @type {unknown} */ data, /** @type {unknown} */ encoding, /** @type {unknown} */ callback) {
  counts.write++
  counts.bytesWritten += lengthOf(data)
  return write.call(this, data, encoding, callback)
}
const push = proto.push
proto.push = function (/** @type {unknown} */ chunk, /** @type {unknown} */ encoding) {
  if (chunk !== null && chunk !== undefined) {
    counts.reads++
    counts.readBytes += lengthOf(chunk)
  }
  return push.call(this, chunk, encoding)
}

process.on('exit', () => {
  const dir = process.env.SOCKET_COUNTS_DIR ?? '/tmp/socket-counts'
  mkdirSync(dir, { recursive: true })
  const script = process.argv[1]?.split('/').slice(-2).join('/') ?? ''
  writeFileSync(join(dir, `${process.pid}.json`), `${JSON.stringify({ script, ...counts })}\n`)
})
