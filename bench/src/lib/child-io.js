/**
 * What every child process of the bench shares: its parameters from the runner, a line
 * protocol on stdout (one JSON object per line), and a hard cap on its own lifetime.
 */

/**
 * The parameters the runner passed in BENCH_PARAMS (JSON).
 * @returns {Record<string, any>}
 */
export function readParams() {
  const raw = process.env.BENCH_PARAMS
  return raw === undefined ? {} : JSON.parse(raw)
}

/**
 * Writes one event line for the runner.
 * @param {Record<string, unknown>} event
 */
export function emit(event) {
  process.stdout.write(`${JSON.stringify(event)}\n`)
}

/**
 * Exits the process after `ms` whatever it is doing, so no child outlives its budget even
 * when a peer hangs. The runner kills stragglers too; this is the first line of defence.
 * @param {number} ms
 * @param {string} who
 */
export function hardCap(ms, who) {
  const timer = setTimeout(() => {
    emit({ event: 'error', message: `${who}: hard time cap of ${ms} ms reached` })
    process.exit(3)
  }, ms)
  timer.unref()
}

/** @param {number} ms */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Milliseconds from a monotonic clock. */
export const now = () => performance.now()

/**
 * Resolves with the next IPC message of `type` from the runner, or undefined after
 * `timeoutMs` (the caller decides whether that is an error).
 * @param {string} type
 * @param {number} timeoutMs
 * @returns {Promise<Record<string, any> | undefined>}
 */
export function nextMessage(type, timeoutMs) {
  return new Promise((resolve) => {
    /** @param {any} message */
    const listener = (message) => {
      if (message?.type !== type) return
      clearTimeout(timer)
      process.off('message', listener)
      resolve(message)
    }
    const timer = setTimeout(() => {
      process.off('message', listener)
      resolve(undefined)
    }, timeoutMs)
    process.on('message', listener)
  })
}
