/**
 * A redis-server of the bench's own for the Redis scale-out runs: on a free loopback port,
 * persistence off (no RDB, no AOF), stopped at the end. Its CPU time is read from
 * /proc/<pid>/stat, its command and byte counters from INFO. (The same approach as the
 * tests' tests/support/redis.ts, written again here: the bench does not import from tests/.)
 */
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'

const BINARY = process.env.PATCHBAY_REDIS_SERVER ?? 'redis-server'
/** Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux). */
const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100

/** Why redis-server cannot run here, or undefined when it can. */
export function redisServerMissing() {
  const probe = spawnSync(BINARY, ['--version'], { encoding: 'utf8' })
  if (probe.error !== undefined || probe.status !== 0) {
    return `redis-server not found (${probe.error?.message ?? probe.stderr}); install it (apt-get install redis-server) or set PATCHBAY_REDIS_SERVER`
  }
  return undefined
}

/** A port free a moment ago (the caller retries on a collision). */
function freePort() {
  return /** @type {Promise<number>} */ (
    new Promise((resolve, reject) => {
      const server = createServer()
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        const address = server.address()
        server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))))
      })
    })
  )
}

/**
 * Sends one inline command and resolves with the whole reply: a simple line, or a bulk
 * string read to its announced length (INFO's reply is one bulk string).
 * @param {number} port
 * @param {string} command
 * @param {number} [timeoutMs]
 * @returns {Promise<string>}
 */
export function redisCommand(port, command, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' })
    let reply = ''
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`redis ${port}: no answer to ${command}`))
    }, timeoutMs)
    socket.setEncoding('utf8')
    socket.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.on('data', (/** @type {string} */ chunk) => {
      reply += chunk
      const end = reply.indexOf('\r\n')
      if (end < 0) return
      if (reply.startsWith('$')) {
        // Bulk string: ASCII here (INFO), so characters are bytes.
        const length = Number(reply.slice(1, end))
        if (reply.length < end + 2 + length + 2) return
        clearTimeout(timer)
        socket.destroy()
        resolve(reply.slice(end + 2, end + 2 + length))
        return
      }
      clearTimeout(timer)
      socket.destroy()
      resolve(reply)
    })
    socket.write(`${command}\r\n`)
  })
}

/**
 * Redis's own counters: calls per command (INFO commandstats) and bytes in and out of every
 * client connection (INFO stats).
 * @typedef {{ calls: Record<string, number>, totalCalls: number, netIn: number, netOut: number, cpuUs: number }} RedisCounters
 */

/**
 * @typedef {object} BenchRedis
 * @property {number} port
 * @property {string} url
 * @property {() => Promise<RedisCounters>} counters
 * @property {() => Promise<void>} stop
 */

/**
 * Starts redis-server on a free port and waits until it answers PING.
 * @returns {Promise<BenchRedis>}
 */
export async function startRedis() {
  let lastError
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort()
    const child = spawn(BINARY, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout?.setEncoding('utf8').on('data', (/** @type {string} */ chunk) => (output += chunk))
    child.stderr?.setEncoding('utf8').on('data', (/** @type {string} */ chunk) => (output += chunk))
    const exited = new Promise((resolve) => child.once('exit', resolve))
    const stop = async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000)
      await exited
      clearTimeout(timer)
    }
    try {
      await waitForPing(port, child, () => output)
      const pid = /** @type {number} */ (child.pid)
      return {
        port,
        url: `redis://127.0.0.1:${port}`,
        stop,
        async counters() {
          const cpuUs = cpuOf(pid)
          const commands = await redisCommand(port, 'INFO commandstats')
          const stats = await redisCommand(port, 'INFO stats')
          /** @type {Record<string, number>} */
          const calls = {}
          for (const match of commands.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[String(match[1])] = Number(match[2])
          const stat = (/** @type {string} */ name) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(stats)?.[1] ?? Number.NaN)
          const totalCalls = Object.values(calls).reduce((sum, n) => sum + n, 0)
          return { calls, totalCalls, netIn: stat('total_net_input_bytes'), netOut: stat('total_net_output_bytes'), cpuUs }
        },
      }
    } catch (error) {
      lastError = error
      await stop()
    }
  }
  throw lastError
}

/**
 * @param {number} port
 * @param {import('node:child_process').ChildProcess} child
 * @param {() => string} output
 */
async function waitForPing(port, child, output) {
  const deadline = Date.now() + 5000
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server on ${port} exited: ${output().slice(-500)}`)
    try {
      if ((await redisCommand(port, 'PING', 500)).startsWith('+PONG')) return
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not answer PING: ${output().slice(-500)}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * CPU time (user + system) a process has used, in µs, from /proc/<pid>/stat (fields 14 and
 * 15, in clock ticks: 10 ms resolution, fine over a window of seconds).
 * @param {number} pid
 */
export function cpuOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) is in parentheses and may hold spaces: split after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  return (ticks * 1_000_000) / TICKS
}
