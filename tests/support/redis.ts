/**
 * Real redis-server processes for the Redis engine's tests: each on a free loopback port,
 * without persistence (RDB and AOF off) unless a test asks for AOF, started and stopped by the
 * test that uses it. A machine without redis-server fails these tests with what to install:
 * never a skip (`.ci/run` installs Debian's redis-server).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const BINARY = process.env.PATCHBAY_REDIS_SERVER ?? 'redis-server'
/** redis-cli, beside redis-server (it creates the test clusters). */
const CLI = process.env.PATCHBAY_REDIS_CLI ?? 'redis-cli'

/** A port free a moment ago: bound on port 0 and closed (the caller retries on a collision). */
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

/** Sends one inline command and resolves with the first reply line, or rejects. */
export function redisCommand(port: number, command: string, timeoutMs = 1000, complete = (reply: string) => reply.includes('\r\n')): Promise<string> {
  return roundTrip(port, `${command}\r\n`, command, timeoutMs, complete)
}

/**
 * Sends one command as RESP bulk strings (binary-safe: msgpack payloads, Lua scripts) and
 * resolves with the raw reply, or rejects.
 */
export function redisCall(port: number, ...args: (string | Uint8Array)[]): Promise<string> {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const arg of args) {
    const bytes = Buffer.from(arg)
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'))
  }
  return roundTrip(port, Buffer.concat(parts), String(args[0]), 1000, (reply) => reply.endsWith('\r\n'))
}

/**
 * What the engine's publish script stores (HINCRBY the seq, XADD the event with the seq as its
 * id, when the topic keeps history), without its PUBLISH: the event is in Redis and no node
 * ever receives its pub/sub message, as when Redis drops one. Resolves with the seq.
 */
export async function storeWithoutPublish(port: number, keys: { meta: string; stream: string }, history: number, data: Uint8Array): Promise<number> {
  const reply = await redisCall(port, 'EVAL', STORE_ONLY_LUA, '2', keys.meta, keys.stream, String(history), data)
  if (!/^:\d+\r\n$/.test(reply)) throw new Error(`redis ${port}: the store-only script answered ${reply}`)
  return Number(reply.slice(1, -2))
}

const STORE_ONLY_LUA = `
local seq = redis.call('HINCRBY', KEYS[1], 's', 1)
if tonumber(ARGV[1]) > 0 then redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[1], seq .. '-0', 'd', ARGV[2]) end
return seq
`

function roundTrip(port: number, payload: string | Buffer, label: string, timeoutMs: number, complete: (reply: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' })
    let reply = ''
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`redis ${port}: no answer to ${label}`))
    }, timeoutMs)
    socket.setEncoding('utf8')
    socket.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.on('data', (chunk: string) => {
      reply += chunk
      if (!complete(reply)) return
      clearTimeout(timer)
      socket.destroy()
      resolve(reply)
    })
    socket.write(payload)
  })
}

let checked = false

/** Throws, with what to install, when redis-server (`binary`) cannot be run here. */
export function requireRedisServer(binary = BINARY): void {
  if (checked && binary === BINARY) return
  const probe = spawnSync(binary, ['--version'], { encoding: 'utf8' })
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error(
      `redis-server is required by the Redis engine's tests and could not be run (${probe.error?.message ?? probe.stderr}). ` +
        'Install it (Debian/Ubuntu: apt-get install redis-server; .ci/run does) or set PATCHBAY_REDIS_SERVER to its path.',
    )
  }
  if (binary === BINARY) checked = true
}

/** How a test's redis-server keeps its data. */
export interface RedisServerOptions {
  /**
   * AOF on (`--appendonly yes --appendfsync always`) in a temporary directory of its own: every
   * write is on disk before Redis answers it, so a SIGKILL loses nothing, and {@link
   * RedisServer.restart} replays the file (same port, same directory). {@link RedisServer.stop}
   * removes the directory.
   * @default false (no persistence: a restart comes back empty)
   */
  readonly appendonly?: boolean
}

/** A running redis-server. */
export class RedisServer {
  private child: ChildProcess | undefined
  private output = ''
  private constructor(
    readonly port: number,
    private readonly extraArgs: readonly string[],
    /** The AOF's directory, when started with `appendonly`. */
    private readonly directory: string | undefined,
  ) {}

  /** Starts a redis-server on a free port and waits until it answers PING. */
  static async start(extraArgs: readonly string[] = [], options: RedisServerOptions = {}): Promise<RedisServer> {
    requireRedisServer()
    let lastError: unknown
    for (let attempt = 0; attempt < 5; attempt++) {
      const directory = options.appendonly === true ? mkdtempSync(join(tmpdir(), 'patchbay-aof-')) : undefined
      const server = new RedisServer(await freePort(), extraArgs, directory)
      try {
        await server.launch()
        return server
      } catch (error) {
        // Most likely the port was taken between freePort and the bind: another one.
        lastError = error
        await server.stop()
      }
    }
    throw lastError
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  /** Runs one inline command (`PUBSUB NUMSUB x`), returning the raw reply. */
  command(command: string): Promise<string> {
    return redisCommand(this.port, command)
  }

  /** PUBSUB NUMSUB for each channel: how many connections subscribe to it. */
  async numsub(...channels: string[]): Promise<number[]> {
    // *2n, then `$len name` and `:count` per channel.
    const counts = (reply: string): number[] => [...reply.matchAll(/^:(\d+)\r$/gm)].map((match) => Number(match[1]))
    return counts(await redisCommand(this.port, `PUBSUB NUMSUB ${channels.join(' ')}`, 1000, (reply) => counts(reply).length === channels.length))
  }

  /** Pub/sub channels with at least one subscriber whose name matches `pattern` (PUBSUB CHANNELS). */
  async channels(pattern = '*'): Promise<string[]> {
    // *N, then `$len` and the name per channel: complete once 1 + 2N lines came.
    const lines = (reply: string): string[] => reply.split('\r\n').slice(0, -1)
    const complete = (reply: string): boolean => {
      const all = lines(reply)
      const count = Number(/^\*(\d+)/.exec(all[0] ?? '')?.[1] ?? Number.NaN)
      return all.length >= 1 + 2 * count
    }
    const reply = lines(await redisCommand(this.port, `PUBSUB CHANNELS ${pattern}`, 1000, complete))
    return reply.slice(1).filter((_line, index) => index % 2 === 1)
  }

  /**
   * Kills it with SIGKILL (a crash), keeping its AOF directory if it has one: {@link restart}
   * brings it back.
   */
  crash(): Promise<void> {
    return this.halt('SIGKILL')
  }

  /**
   * Stops it (SIGKILL: a crash, unless it is down already) and starts it again on the same
   * port: empty, or, with `appendonly`, from its AOF in the same directory.
   */
  async restart(): Promise<void> {
    await this.halt('SIGKILL')
    await this.launch()
  }

  /**
   * SIGTERM (or `signal`), then SIGKILL if it lingers; resolves once the process is gone. Also
   * removes its AOF directory: a stopped server is not restarted (use {@link crash} for that).
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.halt(signal)
    if (this.directory !== undefined) rmSync(this.directory, { recursive: true, force: true })
  }

  private async halt(signal: NodeJS.Signals): Promise<void> {
    const child = this.child
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill(signal)
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000)
    await exited
    clearTimeout(timer)
    this.child = undefined
  }

  private async launch(): Promise<void> {
    const persistence =
      this.directory === undefined ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.directory]
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...persistence, ...this.extraArgs]
    const child = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    this.child = child
    this.output = ''
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk))
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk))
    const deadline = Date.now() + 5000
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server on ${this.port} exited: ${this.output.slice(-500)}`)
      try {
        if ((await redisCommand(this.port, 'PING', 500)).startsWith('+PONG')) return
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not answer PING: ${this.output.slice(-500)}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}

/** Completes a reply that is one bulk string (`$<len>\r\n<bytes>\r\n`), or an error / integer line. */
function bulkComplete(reply: string): boolean {
  const header = /^\$(-?\d+)\r\n/.exec(reply)
  if (header === null) return reply.includes('\r\n')
  const length = Number(header[1])
  return length < 0 || Buffer.byteLength(reply) >= header[0].length + length + 2
}

/** The text of a bulk-string reply. */
function bulkText(reply: string): string {
  const header = /^\$(-?\d+)\r\n/.exec(reply)
  return header === null ? reply : reply.slice(header[0].length, -2)
}

/**
 * A real Redis Cluster of `masters` masters and no replicas on free loopback ports: each
 * node a redis-server with `--cluster-enabled yes`, its cluster config in a temporary
 * directory, no persistence; joined with `redis-cli --cluster create`; ready once
 * `CLUSTER INFO` says `cluster_state:ok` on every node. `cluster-require-full-coverage no`,
 * so that the other masters keep serving their slots when one master is killed.
 */
export class RedisCluster {
  private constructor(
    readonly servers: readonly RedisServer[],
    private readonly directories: readonly string[],
  ) {}

  static async start(masters = 3): Promise<RedisCluster> {
    requireRedisServer()
    const directories: string[] = []
    const servers: RedisServer[] = []
    try {
      for (let i = 0; i < masters; i++) {
        const directory = mkdtempSync(join(tmpdir(), 'patchbay-cluster-'))
        directories.push(directory)
        servers.push(
          await RedisServer.start([
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(directory, 'nodes.conf'),
            '--cluster-require-full-coverage',
            'no',
            '--cluster-node-timeout',
            '5000',
          ]),
        )
      }
      const create = spawnSync(CLI, ['--cluster', 'create', ...servers.map((server) => `127.0.0.1:${server.port}`), '--cluster-replicas', '0', '--cluster-yes'], {
        encoding: 'utf8',
        timeout: 20_000,
      })
      if (create.error !== undefined || create.status !== 0) {
        const missing = create.error !== undefined ? ' (redis-cli comes with redis-server: Debian/Ubuntu redis-tools; or set PATCHBAY_REDIS_CLI)' : ''
        throw new Error(`redis-cli --cluster create failed${missing}: ${create.error?.message ?? ''}${create.stdout ?? ''}${create.stderr ?? ''}`)
      }
      const cluster = new RedisCluster(servers, directories)
      const deadline = Date.now() + 15_000
      for (;;) {
        const states = await Promise.all(servers.map((server) => cluster.info(server.port).catch(() => '')))
        if (states.every((info) => info.includes('cluster_state:ok'))) return cluster
        if (Date.now() > deadline) throw new Error(`the cluster did not reach cluster_state:ok: ${states.join(' | ')}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    } catch (error) {
      await Promise.all(servers.map((server) => server.stop()))
      for (const directory of directories) rmSync(directory, { recursive: true, force: true })
      throw error
    }
  }

  /** The nodes, as the engine's `cluster.nodes` option takes them. */
  get nodes(): { host: string; port: number }[] {
    return this.servers.map((server) => ({ host: '127.0.0.1', port: server.port }))
  }

  /** `CLUSTER INFO` of the node on `port`. */
  async info(port: number): Promise<string> {
    return bulkText(await redisCommand(port, 'CLUSTER INFO', 1000, bulkComplete))
  }

  /** `CLUSTER KEYSLOT key`, asked of a live node. */
  async keyslot(key: string): Promise<number> {
    const reply = await this.ask(`CLUSTER KEYSLOT ${key}`)
    return Number(/^:(\d+)/.exec(reply)?.[1] ?? Number.NaN)
  }

  /** The server (its index in `servers`) that serves `slot`, from `CLUSTER NODES` of a live node. */
  async ownerOf(slot: number): Promise<number> {
    const nodes = bulkText(await this.ask('CLUSTER NODES', bulkComplete))
    for (const line of nodes.split('\n')) {
      const fields = line.split(' ')
      const port = Number(/:(\d+)@/.exec(fields[1] ?? '')?.[1])
      for (const range of fields.slice(8)) {
        const [from, to] = range.split('-').map(Number)
        if (from !== undefined && slot >= from && slot <= (to ?? from)) return this.servers.findIndex((server) => server.port === port)
      }
    }
    return -1
  }

  /** `PUBSUB SHARDNUMSUB` of each channel on the node that serves it: how many connections subscribe to it. */
  async shardnumsub(...channels: string[]): Promise<number[]> {
    const counts: number[] = []
    for (const channel of channels) {
      const server = this.servers[await this.ownerOf(await this.keyslot(channel))] as RedisServer
      const reply = await redisCommand(server.port, `PUBSUB SHARDNUMSUB ${channel}`, 1000, (text) => /^:\d+\r$/m.test(text))
      counts.push(Number(/^:(\d+)\r$/m.exec(reply)?.[1]))
    }
    return counts
  }

  /** Stops every node and removes their cluster config. */
  async stop(): Promise<void> {
    await Promise.all(this.servers.map((server) => server.stop()))
    for (const directory of this.directories) rmSync(directory, { recursive: true, force: true })
  }

  /** Sends `command` to the first node that answers (a test may have killed some). */
  private async ask(command: string, complete?: (reply: string) => boolean): Promise<string> {
    let last: unknown
    for (const server of this.servers) {
      try {
        return await redisCommand(server.port, command, 1000, complete)
      } catch (error) {
        last = error
      }
    }
    throw last
  }
}
