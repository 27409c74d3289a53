/**
 * TanStack Query aborts a query's signal the moment its last observer leaves mid-call, and
 * Strict Mode makes every observer leave and come back once in the same task. Aborting at
 * once would send `call`, `cancel`, `call` for each query a page mounts in development. So an
 * abort here waits one macrotask: an observer of the same procedure and input that comes back
 * within it takes over the call in flight; otherwise the call is cancelled on the server.
 */
import { canonicalJson } from '@patchbay/core'
import type { CallOptions } from '@patchbay/client'

type Call = (input: unknown, options?: CallOptions) => Promise<unknown>

interface Running {
  readonly promise: Promise<unknown>
  readonly stop: AbortController
}

/** Calls of one procedure whose every caller aborted in this task, by input. */
export class Handoff {
  private readonly orphans = new Map<string, { running: Running; timer: ReturnType<typeof setTimeout> }>()

  constructor(private readonly call: Call) {}

  /** Calls with `input`, cancelled one macrotask after `signal` aborts unless taken over. */
  run(input: unknown, options: Omit<CallOptions, 'signal'> | undefined, signal: AbortSignal): Promise<unknown> {
    const key = input === undefined ? '' : canonicalJson(input)
    const orphan = this.orphans.get(key)
    let running: Running
    if (orphan !== undefined) {
      clearTimeout(orphan.timer)
      this.orphans.delete(key)
      running = orphan.running
    } else {
      const stop = new AbortController()
      running = { stop, promise: this.call(input, { ...options, signal: stop.signal }) }
    }
    const abandon = (): void => {
      const timer = setTimeout(() => {
        if (this.orphans.get(key)?.running === running) this.orphans.delete(key)
        running.stop.abort()
      }, 0)
      this.orphans.set(key, { running, timer })
    }
    if (signal.aborted) abandon()
    else {
      signal.addEventListener('abort', abandon, { once: true })
      const settled = (): void => signal.removeEventListener('abort', abandon)
      running.promise.then(settled, settled)
    }
    return running.promise
  }
}
