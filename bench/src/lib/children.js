/**
 * The runner's side of a child process: spawn it with an IPC channel, read its event lines,
 * ask it for memory figures, and kill it if it overstays.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

/**
 * @typedef {object} Child
 * @property {(event: string, timeoutMs: number) => Promise<Record<string, any>>} waitFor
 *   resolves with the next line carrying that event; rejects on an error line, exit or timeout
 * @property {(type: string, timeoutMs: number, body?: Record<string, unknown>) => Promise<Record<string, any>>} request
 *   sends an IPC message (`body`'s fields and `type`) and resolves with the reply of the same type
 * @property {(message: import('node:child_process').Serializable) => void} send
 * @property {(type: string, listener: (message: Record<string, any>) => void) => () => void} onMessage
 *   calls `listener` with every IPC message of that type the child sends unasked; returns
 *   the function that stops listening
 * @property {(graceMs: number) => Promise<void>} stop waits up to graceMs for a natural
 *   exit, then SIGTERM, then SIGKILL
 * @property {() => Promise<void>} kill SIGKILL now (a node dying mid-run: scale-storm.js),
 *   resolves once it has exited
 * @property {number} pid
 */

/**
 * @param {string} script absolute path
 * @param {{ params: Record<string, unknown>, nodeArgs?: string[], label: string }} options
 * @returns {Child}
 */
export function startChild(script, { params, nodeArgs = [], label }) {
  // BENCH_NODE_ARGS adds flags to every child, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`
  // (Node refuses --cpu-prof in NODE_OPTIONS). A profile is written when the child exits on
  // its own, which every child does at the end of a run that did not fail.
  const extra = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []
  const child = spawn(process.execPath, [...extra, ...nodeArgs, script], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, BENCH_PARAMS: JSON.stringify(params) },
  })
  /** @type {Record<string, any>[]} */
  const lines = []
  /** @type {(() => void)[]} */
  const wakers = []
  let stderr = ''
  /** @type {number | null} */
  let exitCode = null
  let exited = false
  const wake = () => wakers.splice(0).forEach((fn) => fn())

  createInterface({ input: /** @type {import('node:stream').Readable} */ (child.stdout) }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line))
    } catch {
      lines.push({ event: 'output', line })
    }
    wake()
  })
  child.stderr?.on('data', (chunk) => {
    if (stderr.length < 8_000) stderr += String(chunk)
  })
  // A send to a child whose channel just closed emits 'error' here: request() then fails
  // by its timeout or its `connected` check, never the runner.
  child.on('error', () => {})
  const exit = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? 128 : null)
      exited = true
      wake()
      resolve(undefined)
    })
  })

  /** @param {string} what */
  const failure = (what) => new Error(`${label}: ${what}${stderr ? `\n${stderr.trim()}` : ''}`)

  return {
    waitFor(event, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(failure(`no "${event}" within ${timeoutMs} ms`)), timeoutMs)
        const check = () => {
          while (lines.length > 0) {
            const line = /** @type {Record<string, any>} */ (lines.shift())
            if (line.event === event) {
              clearTimeout(timer)
              resolve(line)
              return
            }
            if (line.event === 'error') {
              clearTimeout(timer)
              reject(failure(String(line.message)))
              return
            }
          }
          if (exited) {
            clearTimeout(timer)
            reject(failure(`exited with ${exitCode} before "${event}"`))
            return
          }
          wakers.push(check)
        }
        check()
      })
    },
    request(type, timeoutMs, body = {}) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          child.off('message', onMessage)
          reject(failure(`no "${type}" reply within ${timeoutMs} ms`))
        }, timeoutMs)
        /** @param {any} message */
        const onMessage = (message) => {
          if (message?.type !== type) return
          clearTimeout(timer)
          child.off('message', onMessage)
          resolve(message)
        }
        child.on('message', onMessage)
        if (!child.connected) {
          clearTimeout(timer)
          child.off('message', onMessage)
          reject(failure(`gone before "${type}" could be asked`))
          return
        }
        child.send({ ...body, type })
      })
    },
    send(message) {
      if (child.connected) child.send(message)
    },
    onMessage(type, listener) {
      /** @param {any} message */
      const onMessage = (message) => {
        if (message?.type === type) listener(message)
      }
      child.on('message', onMessage)
      return () => child.off('message', onMessage)
    },
    pid: /** @type {number} */ (child.pid),
    async kill() {
      if (!exited) child.kill('SIGKILL')
      await exit
    },
    async stop(graceMs) {
      if (exited) return
      const timeout = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms).unref())
      await Promise.race([exit, timeout(graceMs)])
      if (exited) return
      child.kill('SIGTERM')
      await Promise.race([exit, timeout(1_000)])
      if (!exited) child.kill('SIGKILL')
      await exit
    },
  }
}
