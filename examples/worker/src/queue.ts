/**
 * The queue: jobs by id, in memory, with every change appended to a journal file before it
 * is acknowledged, so a server process killed at any moment restarts with every job it had
 * accepted, in the state it had reached.
 */
import { appendFileSync, readFileSync } from 'node:fs'
import type { Job, JobSpec } from './api.js'

/** How a job ended, as its worker reports it. */
export type Outcome = { state: 'done'; output: unknown } | { state: 'failed'; error: string } | { state: 'cancelled' }

/** One line of the journal: a job as it is after a change. */
type Entry = Job

const ended = (job: Job): boolean => job.state === 'done' || job.state === 'failed' || job.state === 'cancelled'

export class Queue {
  private readonly jobs = new Map<string, Job>()
  /** Queued ids, oldest first. */
  private readonly waiting: string[] = []
  /** Workers waiting in `take`, oldest first. */
  private readonly takers: { worker: string; hand: (job: Job) => void }[] = []
  /** Who waits for each job to change (its end, its cancel). */
  private readonly watchers = new Map<string, Set<(job: Job) => void>>()

  /** Reads the journal at `path` (if any) and appends to it from then on. */
  constructor(private readonly path: string) {
    let text = ''
    try {
      text = readFileSync(path, 'utf8')
    } catch {
      // No journal yet: a new queue.
    }
    for (const line of text.split('\n')) {
      if (line === '') continue
      try {
        const job = JSON.parse(line) as Entry
        this.jobs.set(job.id, job)
      } catch {
        // A line cut short by a crash mid-write: its change was never acknowledged.
      }
    }
    for (const job of this.jobs.values()) if (job.state === 'queued') this.waiting.push(job.id)
  }

  get(id: string): Job | undefined {
    return this.jobs.get(id)
  }

  /** Queues `spec` unless a job with its id exists; `created` says which. */
  submit(spec: JobSpec): { job: Job; created: boolean } {
    const existing = this.jobs.get(spec.id)
    if (existing !== undefined) return { job: existing, created: false }
    const job = this.write({ id: spec.id, task: spec.task, input: spec.input, state: 'queued', attempt: 0 })
    this.waiting.push(job.id)
    this.dispatch()
    return { job, created: true }
  }

  /** The next job for `worker`, once there is one; `signal` withdraws the wait. */
  take(worker: string, signal: AbortSignal): Promise<Job> {
    // It asks only when it runs nothing: a job leased to it was lost on its way, or the
    // worker restarted. Give it back rather than leave it leased forever.
    for (const job of this.jobs.values()) if (job.state === 'running' && job.worker === worker) return Promise.resolve(this.lease(job, worker))
    return new Promise((resolve, reject) => {
      const taker = { worker, hand: resolve }
      this.takers.push(taker)
      signal.addEventListener('abort', () => {
        const index = this.takers.indexOf(taker)
        if (index !== -1) this.takers.splice(index, 1)
        reject(signal.reason)
      })
      this.dispatch()
    })
  }

  /** Ends a job as its worker reports; a job that already ended stays as it was. */
  finish(id: string, outcome: Outcome): Job | undefined {
    const job = this.jobs.get(id)
    if (job === undefined || ended(job)) return job
    if (outcome.state === 'done') return this.change({ ...job, state: 'done', output: outcome.output })
    if (outcome.state === 'failed') return this.change({ ...job, state: 'failed', error: outcome.error })
    return this.change({ ...job, state: 'cancelled' })
  }

  /** Cancels a job that has not ended: a queued one never runs, a running one's worker is told. */
  cancel(id: string): Job | undefined {
    const job = this.jobs.get(id)
    if (job === undefined || ended(job)) return job
    const index = this.waiting.indexOf(id)
    if (index !== -1) this.waiting.splice(index, 1)
    return this.change({ ...job, state: 'cancelled' })
  }

  /** Resolves with the job once `until` holds for it; `signal` withdraws the wait. */
  when(id: string, until: (job: Job) => boolean, signal: AbortSignal): Promise<Job> {
    const job = this.jobs.get(id)
    if (job !== undefined && until(job)) return Promise.resolve(job)
    return new Promise((resolve, reject) => {
      let watchers = this.watchers.get(id)
      if (watchers === undefined) this.watchers.set(id, (watchers = new Set()))
      const watcher = (changed: Job): void => {
        if (!until(changed)) return
        stop()
        resolve(changed)
      }
      const stop = (): void => {
        watchers.delete(watcher)
        if (watchers.size === 0) this.watchers.delete(id)
      }
      watchers.add(watcher)
      signal.addEventListener('abort', () => {
        stop()
        reject(signal.reason)
      })
    })
  }

  /** Hands queued jobs to waiting workers, oldest to oldest. */
  private dispatch(): void {
    while (this.waiting.length > 0 && this.takers.length > 0) {
      const job = this.jobs.get(this.waiting.shift() as string) as Job
      const taker = this.takers.shift() as (typeof this.takers)[number]
      taker.hand(this.lease(job, taker.worker))
    }
  }

  private lease(job: Job, worker: string): Job {
    return this.change({ ...job, state: 'running', worker, attempt: job.attempt + 1 })
  }

  private change(job: Job): Job {
    this.write(job)
    for (const watcher of [...(this.watchers.get(job.id) ?? [])]) watcher(job)
    return job
  }

  /** Journals the job before anyone hears of it (appendFileSync: in the file once it returns). */
  private write(job: Job): Job {
    appendFileSync(this.path, `${JSON.stringify(job)}\n`)
    this.jobs.set(job.id, job)
    return job
  }
}
