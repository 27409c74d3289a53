/**
 * `npm run start:worker`: the queue server and two workers as child processes, then a short
 * tour as a submitter: a job run to its end, a duplicate submit, a cancel that reaches the
 * worker. Every process prints JSON lines, prefixed here with its name. Ctrl-C stops all.
 * PORT picks the server's port (default 4000); JOURNAL its journal (default ./jobs.journal).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { connectQueue } from './connect.js'

const children: ChildProcess[] = []

/** Starts dist/<script>.js; resolves with its first line that has `event: 'listening'` if asked. */
function start(name: string, script: string, env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, [fileURLToPath(new URL(`./${script}.js`, import.meta.url))], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  let rest = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n')
    rest = lines.pop() ?? ''
    for (const line of lines) console.log(`[${name}] ${line}`)
  })
  return child
}

function listening(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the server exited (${String(code)}) before listening`)))
    child.stdout?.on('data', (chunk: string) => {
      const match = /"url":"(ws:\/\/[^"]+)"/.exec(chunk)
      if (match?.[1] !== undefined) resolve(match[1])
    })
  })
}

function stop(code: number): void {
  for (const child of children) child.kill('SIGTERM')
  process.exitCode = code
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop(0))

const server = start('server', 'server', { PORT: process.env.PORT ?? '4000' })
const url = await listening(server)
for (const name of ['worker-a', 'worker-b']) start(name, 'worker', { SERVER_URL: url, WORKER: name })

const client = connectQueue(url)
const say = (line: string): void => console.log(`[submitter] ${line}`)
try {
  const id = `checksum-${randomUUID()}`
  const job = await client.jobs.run({ id, task: 'checksum', input: { text: 'patchbay', rounds: 100_000 } })
  say(`${job.id} ${job.state} on ${job.worker ?? '?'}: ${JSON.stringify(job.output)}`)

  const twice = `sleep-${randomUUID()}`
  const first = await client.jobs.submit({ id: twice, task: 'sleep', input: { ms: 500 } })
  const second = await client.jobs.submit({ id: twice, task: 'sleep', input: { ms: 500 } })
  say(`submitted ${twice} twice: created ${String(first.created)}, then ${String(second.created)}`)

  const controller = new AbortController()
  const long = client.jobs.run({ id: `sleep-${randomUUID()}`, task: 'sleep', input: { ms: 60_000 } }, { signal: controller.signal })
  setTimeout(() => controller.abort(), 1_000)
  await long.catch((error: unknown) => say(`aborted a 60 s job after 1 s: ${String(error)} (the worker logs cancel-received)`))
  say(`${twice} ended ${(await client.jobs.run({ id: twice, task: 'sleep' })).state}, run once; Ctrl-C to stop`)
} catch (error) {
  say(`failed: ${String(error)}`)
  stop(1)
}
await client.close()
