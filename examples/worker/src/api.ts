/**
 * The job queue's router, shared by the queue server, its workers and whoever submits jobs.
 * Two halves: `jobs` for submitters, `worker` for the workers that run them.
 */
import { z } from 'zod'
import { procedure, router } from '@patchbay/core'

/** A job id, chosen by the submitter: the same id twice is the same job (idempotent submit). */
export const JobId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'A job id is 1 to 64 characters of A-Z a-z 0-9 _ -')

/** What a job asks for: one of the tasks workers know (src/tasks.ts), with its input. */
export const JobSpec = z.object({
  id: JobId,
  task: z.enum(['sleep', 'checksum']),
  input: z.record(z.string(), z.unknown()).default({}),
})
export type JobSpec = z.infer<typeof JobSpec>

export const JobState = z.enum(['queued', 'running', 'done', 'failed', 'cancelled'])
export type JobState = z.infer<typeof JobState>

/** A job as the queue knows it. `attempt` counts how many times a worker was handed it. */
export const Job = z.object({
  id: JobId,
  task: JobSpec.shape.task,
  input: z.record(z.string(), z.unknown()),
  state: JobState,
  attempt: z.number().int(),
  worker: z.string().optional(),
  output: z.unknown().optional(),
  error: z.string().optional(),
})
export type Job = z.infer<typeof Job>

const WorkerName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/)

export const api = router({
  jobs: {
    /**
     * Queues a job unless one with its id exists; answers the job either way (`created` says
     * which). Idempotent twice over: the client sends it again with its key after a dropped
     * connection (docs/protocol.md §4.2), and the job id makes any second submit a no-op.
     */
    submit: procedure({ input: JobSpec, output: z.object({ job: Job, created: z.boolean() }), idempotent: true }),
    /**
     * Submits like `submit`, then waits for the job to end and answers it. Aborting the call
     * (its AbortSignal, or its timeout) cancels the job, and the cancel reaches the worker.
     * A dropped connection does not: the call is idempotent, sent again on the next connection.
     */
    run: procedure({ input: JobSpec, output: Job, idempotent: true }),
    /** Cancels a queued or running job (a running one's worker is told); answers the job. */
    cancel: procedure({ input: z.object({ id: JobId }), output: Job, idempotent: true }),
    /** The job as it is now. */
    get: procedure({ input: z.object({ id: JobId }), output: Job }),
  },
  worker: {
    /**
     * Waits for the next job for this worker and leases it. A worker runs one job at a time
     * and asks only when it runs none, so a job already leased to it (the answer was lost with
     * a connection, or the worker restarted) is handed back to it first.
     */
    take: procedure({ input: z.object({ worker: WorkerName }), output: Job, idempotent: true }),
    /**
     * Resolves when the job is cancelled. The worker calls it beside running a job and aborts
     * it when the job ends; it is how a cancel reaches the worker, even across a restart.
     */
    cancelled: procedure({ input: z.object({ id: JobId }), output: z.object({ id: JobId }), idempotent: true }),
    /** Reports a job's end: its output, or why it failed or stopped. */
    finish: procedure({
      input: z.object({
        worker: WorkerName,
        id: JobId,
        outcome: z.discriminatedUnion('state', [
          z.object({ state: z.literal('done'), output: z.unknown() }),
          z.object({ state: z.literal('failed'), error: z.string() }),
          z.object({ state: z.literal('cancelled') }),
        ]),
      }),
      output: Job,
      idempotent: true,
    }),
  },
})
export type Api = typeof api
