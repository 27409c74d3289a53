/**
 * A worker: takes one job at a time from the queue server, runs it, reports how it ended.
 * From the environment: SERVER_URL (default ws://127.0.0.1:4000) and WORKER, its name
 * (default worker-<pid>): a restarted worker with the same name gets back the job it held.
 *
 * A job's cancel arrives as the answer to `worker.cancelled`, a call the worker keeps open
 * beside the job and aborts when the job ends: an AbortSignal from the caller's side to
 * the task's (src/tasks.ts), through the server.
 */
import { isPatchbayError } from '@patchbay/core'
import type { Job } from './api.js'
import { connectQueue } from './connect.js'
import { log } from './log.js'
import { tasks } from './tasks.js'
import type { Outcome } from './queue.js'

const name = process.env.WORKER ?? `worker-${process.pid}`
const client = connectQueue(process.env.SERVER_URL ?? 'ws://127.0.0.1:4000')
/** Ctrl-C or SIGTERM: take no more jobs; the one running finishes and is reported first. */
const stopping = new AbortController()
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stopping.abort())

client.on('state', ({ state, code }) => log({ event: 'state', worker: name, state, code, encoding: client.encoding }))

async function run(job: Job): Promise<Outcome> {
  const controller = new AbortController()
  const done = new AbortController()
  // Resolves when the job is cancelled; aborted (CANCELLED, ignored) once the job ends.
  client.worker.cancelled({ id: job.id }, { signal: done.signal }).then(
    () => {
      log({ event: 'cancel-received', worker: name, id: job.id })
      controller.abort(new Error('job cancelled'))
    },
    () => {},
  )
  log({ event: 'started', worker: name, id: job.id, task: job.task, attempt: job.attempt })
  try {
    const output = await tasks[job.task](job.input, controller.signal)
    return { state: 'done', output }
  } catch (error) {
    if (controller.signal.aborted) return { state: 'cancelled' }
    return { state: 'failed', error: error instanceof Error ? error.message : String(error) }
  } finally {
    done.abort()
  }
}

while (!stopping.signal.aborted) {
  let job: Job
  try {
    job = await client.worker.take({ worker: name }, { signal: stopping.signal })
  } catch (error) {
    if (stopping.signal.aborted) break
    // Not retried by the client: the server refused (a bug here), or the client closed.
    log({ event: 'take-failed', worker: name, error: isPatchbayError(error) ? error.code : String(error) })
    break
  }
  const outcome = await run(job)
  log({ event: 'finished', worker: name, id: job.id, outcome: outcome.state })
  // Idempotent: if the server is away, this waits for it, and is sent again if cut off.
  await client.worker.finish({ worker: name, id: job.id, outcome })
}
await client.close()
