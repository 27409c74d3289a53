/**
 * `npm run start:cluster`: the chat on two nodes sharing one Redis. Starts a redis-server on
 * a free loopback port (no persistence), unless REDIS_URL names an existing Redis, then two
 * chat servers on it, on ports 3000 and 3001 (PORTS=a,b for others, 0 for any free one).
 * Ctrl-C or SIGTERM stops all of them. REDIS_SERVER names the redis-server binary.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createConnection, createServer } from 'node:net'
import { fileURLToPath } from 'node:url'

const binary = process.env.REDIS_SERVER ?? 'redis-server'
const ports = (process.env.PORTS ?? '3000,3001').split(',').map((port) => port.trim())
const children: { name: string; child: ChildProcess }[] = []
let stopping = false

/** A loopback port free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/** True once Redis on `port` answers PING. */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' })
    socket.setTimeout(500, () => socket.destroy())
    socket.once('error', () => resolve(false))
    socket.once('close', () => resolve(false))
    socket.once('data', (reply) => {
      resolve(reply.toString().startsWith('+PONG'))
      socket.destroy()
    })
    socket.write('PING\r\n')
  })
}

/** Starts `command` and prefixes each line it prints with its name. */
function start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  // Own process group: Ctrl-C reaches this script alone, which stops the chat servers before
  // Redis (they announce their rooms empty on the way out).
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  for (const stream of [child.stdout, child.stderr]) {
    let rest = ''
    stream?.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n')
      rest = lines.pop() ?? ''
      for (const line of lines) console.log(`[${name}] ${line}`)
    })
  }
  children.push({ name, child })
  child.once('exit', (code, signal) => {
    if (stopping) return
    console.error(`[${name}] exited (${signal ?? `code ${String(code)}`}); stopping the others`)
    void stop(1)
  })
  return child
}

/** Stops the chat servers first (they tell Redis their rooms are empty), then Redis. */
async function stop(code: number): Promise<never> {
  stopping = true
  const exited = ({ child }: { child: ChildProcess }): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
      setTimeout(() => child.kill('SIGKILL'), 5000).unref()
    })
  await Promise.all(children.filter(({ name }) => name !== 'redis').map(exited))
  await Promise.all(children.filter(({ name }) => name === 'redis').map(exited))
  process.exit(code)
}

async function startRedis(): Promise<string> {
  const probe = spawnSync(binary, ['--version'], { encoding: 'utf8' })
  if (probe.error !== undefined || probe.status !== 0) {
    console.error(
      `redis-server is needed to run the chat on two nodes, and "${binary}" could not be run (${probe.error?.message ?? probe.stderr.trim()}).\n` +
        'Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis),\n' +
        'or point the nodes at an existing Redis: REDIS_URL=redis://host:6379 npm run start:cluster',
    )
    process.exit(1)
  }
  const port = await freePort()
  const redis = start('redis', binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'])
  const deadline = Date.now() + 5000
  while (!(await pong(port))) {
    if (redis.exitCode !== null || Date.now() > deadline) {
      console.error(`redis-server did not start on port ${port}`)
      return stop(1)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return `redis://127.0.0.1:${port}`
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stop(0))

const url = process.env.REDIS_URL !== undefined && process.env.REDIS_URL !== '' ? process.env.REDIS_URL : await startRedis()
console.log(`redis at ${url}`)
const server = fileURLToPath(new URL('server.js', import.meta.url))
ports.forEach((port, index) => {
  const name = `node ${String.fromCharCode(97 + index)}`
  start(name, process.execPath, [server], { ...process.env, PORT: port, REDIS_URL: url })
})
