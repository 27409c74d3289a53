/**
 * examples/worker with real processes: the queue server and a worker as child processes (the
 * built dist/server.js and dist/worker.js, as `npm run start:worker` runs them), this test as
 * the submitter, all over msgpack on 127.0.0.1. What the example promises (its README):
 * an accepted job is never lost and runs once, across a SIGKILL of the server too; a
 * duplicate submit runs once; a cancel reaches the worker's task.
 */
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isPatchbayError } from '@patchbay/core'
import { connectQueue } from '@patchbay/example-worker/connect'
import { cleanUp, spawnScript, within, type FixtureEvent, type FixtureProcess } from './support.js'

const root = dirname(createRequire(import.meta.url).resolve('@patchbay/example-worker/package.json'))
let dir: string
const clients: ReturnType<typeof connectQueue>[] = []

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'patchbay-worker-'))
})
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => within(client.close(), 3_000, 'client.close()').catch(() => {})))
  await cleanUp()
  rmSync(dir, { recursive: true, force: true })
})

/** The queue server on `port` (0: any), journalling to this test's directory. */
async function startServer(port = 0): Promise<{ server: FixtureProcess; port: number; url: string }> {
  const server = spawnScript('queue-server', join(root, 'dist/server.js'), { PORT: port, HOST: '127.0.0.1', JOURNAL: join(dir, 'jobs.journal') })
  const listening = await server.waitFor((event) => event.event === 'listening', 'the queue server listening')
  const bound = listening.port as number
  return { server, port: bound, url: `ws://127.0.0.1:${bound}` }
}

function startWorker(url: string, name = 'w1'): FixtureProcess {
  return spawnScript(name, join(root, 'dist/worker.js'), { SERVER_URL: url, WORKER: name })
}

function submitter(url: string): ReturnType<typeof connectQueue> {
  const client = connectQueue(url)
  clients.push(client)
  return client
}

const about = (id: string, event: string) => (line: FixtureEvent) => line.event === event && line.id === id

describe('examples/worker: a job queue over msgpack, server and worker as processes', () => {
  it('runs a submitted job on the worker and answers its output', async () => {
    const { url } = await startServer()
    const worker = startWorker(url)
    const client = submitter(url)
    const job = await within(client.jobs.run({ id: 'hash-1', task: 'checksum', input: { text: 'patchbay', rounds: 2 } }), 10_000, 'the job to run')
    const once = createHash('sha256').update('patchbay').digest('hex')
    expect(job).toMatchObject({ id: 'hash-1', state: 'done', attempt: 1, worker: 'w1', output: { sha256: createHash('sha256').update(once).digest('hex') } })
    expect(client.encoding).toBe('msgpack')
    expect(worker.all((event) => event.event === 'state' && event.state === 'open').map((event) => event.encoding)).toEqual(['msgpack'])
  })

  it('runs a job submitted twice (two calls, two idempotency keys) once', async () => {
    const { url } = await startServer()
    const worker = startWorker(url)
    const [a, b] = [submitter(url), submitter(url)]
    const spec = { id: 'twice', task: 'sleep', input: { ms: 50 } } as const
    const answers = await Promise.all([a.jobs.submit(spec), b.jobs.submit(spec), a.jobs.submit(spec)])
    expect(answers.map(({ created }) => created).sort()).toEqual([false, false, true])
    expect((await b.jobs.run(spec)).state).toBe('done')
    // The worker takes jobs in order, one at a time: had the duplicate been queued, it would
    // have started before this one ends.
    expect((await a.jobs.run({ id: 'after', task: 'sleep', input: { ms: 1 } })).state).toBe('done')
    await worker.waitFor(about('after', 'finished'), 'the later job finished')
    expect(worker.all(about('twice', 'started'))).toHaveLength(1)
    expect(await a.jobs.submit(spec)).toMatchObject({ created: false, job: { state: 'done', attempt: 1 } })
  })

  it("carries a caller's AbortSignal to the worker's task: the job stops and is cancelled", async () => {
    const { url } = await startServer()
    const worker = startWorker(url)
    const client = submitter(url)
    const controller = new AbortController()
    const running = client.jobs.run({ id: 'long', task: 'sleep', input: { ms: 60_000 } }, { signal: controller.signal })
    await worker.waitFor(about('long', 'started'), 'the long job started')
    controller.abort()
    const error = await running.catch((caught: unknown) => caught)
    expect(isPatchbayError(error) && error.code).toBe('CANCELLED')
    // docs/protocol.md §5: the cancel aborts the handler's signal; the queue tells the worker.
    await worker.waitFor(about('long', 'cancel-received'), 'the cancel at the worker', 5_000)
    expect((await worker.waitFor(about('long', 'finished'), 'the job to stop')).outcome).toBe('cancelled')
    expect((await client.jobs.get({ id: 'long' })).state).toBe('cancelled')
  })

  it('survives a SIGKILL of the server: the worker keeps its job, the flow resumes, nothing accepted is lost or run twice', async () => {
    const first = await startServer()
    const worker = startWorker(first.url)
    const client = submitter(first.url)
    // One job running on the worker when the server dies, one accepted and still queued.
    const running = client.jobs.run({ id: 'through', task: 'sleep', input: { ms: 2_500 } })
    await worker.waitFor(about('through', 'started'), 'the first job started')
    await client.jobs.submit({ id: 'queued', task: 'sleep', input: { ms: 1 } })

    await first.server.killHard()
    expect(first.server.exit).toEqual({ code: null, signal: 'SIGKILL' })
    await startServer(first.port)

    // The run call is idempotent: sent again on the new connection, where the journal has the
    // job, running on w1, which reports it once it ends (docs/protocol.md §4.2).
    expect(await within(running, 15_000, 'the running job across the restart')).toMatchObject({ id: 'through', state: 'done', attempt: 1 })
    expect(await within(client.jobs.run({ id: 'queued', task: 'sleep' }), 10_000, 'the queued job')).toMatchObject({ state: 'done', attempt: 1 })
    expect(await within(client.jobs.run({ id: 'new', task: 'sleep', input: { ms: 1 } }), 10_000, 'a job submitted after')).toMatchObject({ state: 'done' })
    for (const id of ['through', 'queued', 'new']) expect(worker.all(about(id, 'started')), id).toHaveLength(1)
    // Both clients lost the connection and came back.
    const states = worker.all((event) => event.event === 'state').map((event) => event.state)
    expect(states).toEqual(expect.arrayContaining(['open', 'reconnecting']))
    expect(states.at(-1)).toBe('open')
  }, 40_000)

  it('reaches a running job with a cancel made after a server restart, whichever client reconnects first', async () => {
    const first = await startServer()
    const worker = startWorker(first.url)
    const client = submitter(first.url)
    await client.jobs.submit({ id: 'doomed', task: 'sleep', input: { ms: 60_000 } })
    await worker.waitFor(about('doomed', 'started'), 'the job started')
    await first.server.killHard()
    await startServer(first.port)
    // The worker's `worker.cancelled` call is idempotent: re-sent after its reconnect, and
    // answered from the job's state on the new server, before or after this cancel.
    expect((await within(client.jobs.cancel({ id: 'doomed' }), 10_000, 'the cancel')).state).toBe('cancelled')
    await worker.waitFor(about('doomed', 'cancel-received'), 'the cancel at the worker', 10_000)
    expect((await worker.waitFor(about('doomed', 'finished'), 'the job to stop')).outcome).toBe('cancelled')
  }, 30_000)

  it('hands the job of a worker killed mid-job back to the worker started again under its name (at-least-once, as the README says)', async () => {
    const { url } = await startServer()
    const killed = startWorker(url, 'w1')
    const client = submitter(url)
    const running = client.jobs.run({ id: 'orphan', task: 'sleep', input: { ms: 60_000 } })
    await killed.waitFor(about('orphan', 'started'), 'the job started')
    await killed.killHard()
    const again = startWorker(url, 'w1')
    expect((await again.waitFor(about('orphan', 'started'), 'the job handed back')).attempt).toBe(2)
    await client.jobs.cancel({ id: 'orphan' })
    expect((await within(running, 10_000, 'the run to end')).state).toBe('cancelled')
  }, 30_000)
})
