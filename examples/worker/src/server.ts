/**
 * The queue server: holds the queue (src/queue.ts, journalled to JOURNAL) and serves the
 * router on a plain WebSocket port; submitters and workers are its clients.
 * From the environment: PORT (default 4000, 0 for any), HOST (default 127.0.0.1), JOURNAL
 * (default ./jobs.journal).
 */
import { PatchbayError } from '@patchbay/core'
import { createServer } from '@patchbay/server'
import { api, type Job } from './api.js'
import { log } from './log.js'
import { Queue } from './queue.js'

const queue = new Queue(process.env.JOURNAL ?? 'jobs.journal')
const ended = (job: Job): boolean => job.state === 'done' || job.state === 'failed' || job.state === 'cancelled'

function known(id: string): Job {
  const job = queue.get(id)
  if (job === undefined) throw new PatchbayError('NOT_FOUND', `No job ${id}`)
  return job
}

const server = createServer(api, {
  handlers: {
    jobs: {
      submit: ({ input }) => queue.submit(input),
      run: async ({ input, signal }) => {
        const { job } = queue.submit(input)
        // Aborted only by the caller's cancel (its AbortSignal or timeout): a keyed call runs on
        // when its connection drops, for the retry to join it (docs/protocol.md §4.2, §5).
        const onAbort = (): void => void queue.cancel(job.id)
        signal.addEventListener('abort', onAbort)
        try {
          return await queue.when(job.id, ended, signal)
        } finally {
          signal.removeEventListener('abort', onAbort)
        }
      },
      cancel: ({ input }) => queue.cancel(input.id) ?? known(input.id),
      get: ({ input }) => known(input.id),
    },
    worker: {
      take: ({ input, signal }) => queue.take(input.worker, signal),
      cancelled: async ({ input, signal }) => {
        await queue.when(input.id, (job) => job.state === 'cancelled', signal)
        return { id: input.id }
      },
      finish: ({ input }) => queue.finish(input.id, input.outcome) ?? known(input.id),
    },
  },
  // Service-to-service: no browser, so no Origin to check; and a worker's bursts are ours.
  rateLimit: false,
})

const { port, host } = await server.listen({ port: Number(process.env.PORT ?? 4000), host: process.env.HOST ?? '127.0.0.1' })
log({ event: 'listening', url: `ws://${host}:${port}`, port })

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void server.close().then(() => process.exit(0)))
}
