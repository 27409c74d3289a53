/**
 * What workers know how to do. Each task takes the job's input and an AbortSignal, and
 * stops when the signal aborts: that is where a cancel, made anywhere, ends up.
 */
import { createHash } from 'node:crypto'
import type { JobSpec } from './api.js'

type Task = (input: Record<string, unknown>, signal: AbortSignal) => Promise<unknown>

export const tasks: Record<JobSpec['task'], Task> = {
  /** Waits `ms` milliseconds (default 1000), then answers how long it waited. */
  sleep: (input, signal) =>
    new Promise((resolve, reject) => {
      const ms = typeof input.ms === 'number' ? input.ms : 1000
      const timer = setTimeout(() => resolve({ slept: ms }), ms)
      signal.addEventListener('abort', () => {
        clearTimeout(timer)
        reject(signal.reason)
      })
    }),
  /** SHA-256 of `text`, `rounds` times over (default 1), yielding to the event loop between rounds. */
  checksum: async (input, signal) => {
    let digest = typeof input.text === 'string' ? input.text : ''
    const rounds = typeof input.rounds === 'number' ? input.rounds : 1
    for (let round = 0; round < rounds; round++) {
      signal.throwIfAborted()
      digest = createHash('sha256').update(digest).digest('hex')
      if (round % 1000 === 999) await new Promise((resolve) => setImmediate(resolve))
    }
    return { sha256: digest }
  },
}
