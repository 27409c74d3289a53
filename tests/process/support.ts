/**
 * Real processes for the kill/restart suites: spawn a fixture with `node`, read its JSON
 * event lines, wait for one with a bound, signal it, and kill whatever is left after each
 * test (SIGKILL works on a SIGSTOPped process too). Clients made here are closed likewise.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { createClient, type Client, type ClientOptions, type StateEvent } from '@patchbay/client'
import { api, type Api } from './api.js'

/** One line a fixture printed on stdout. */
export interface FixtureEvent {
  readonly event: string
  readonly pid: number
  readonly [field: string]: unknown
}

export type FixtureName = 'server' | 'proxy' | 'subscriber' | 'faults-server' | 'redis-node'

/** A spawned fixture process. */
export class FixtureProcess {
  readonly events: FixtureEvent[] = []
  stderr = ''
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  private readonly child: ChildProcess
  private readonly wake = new Set<() => void>()

  constructor(
    readonly name: string,
    env: Record<string, string>,
    script = fileURLToPath(new URL(`./fixtures/${name}.mjs`, import.meta.url)),
  ) {
    // stdin stays open as a lifeline: the fixture exits when it closes (this worker died).
    this.child = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
    let pending = ''
    this.child.stdout?.setEncoding('utf8')
    this.child.stdout?.on('data', (chunk: string) => {
      pending += chunk
      let newline: number
      while ((newline = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, newline)
        pending = pending.slice(newline + 1)
        try {
          this.events.push(JSON.parse(line) as FixtureEvent)
        } catch {
          this.stderr += `(stdout) ${line}\n`
        }
      }
      this.notify()
    })
    this.child.stderr?.setEncoding('utf8')
    this.child.stderr?.on('data', (chunk: string) => (this.stderr += chunk))
    this.child.stdin?.on('error', () => {}) // EPIPE once it is gone
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal }
        running.delete(this)
        this.notify()
        resolve(this.exit)
      })
    })
    running.add(this)
  }

  get pid(): number {
    return this.child.pid ?? -1
  }

  /** Sends `signal` to this process (by its pid), if it still runs. */
  kill(signal: NodeJS.Signals): void {
    if (this.exit === undefined) this.child.kill(signal)
  }

  /** Writes one line to the fixture's stdin (fixtures that take commands read them there). */
  send(command: Record<string, unknown>): void {
    this.child.stdin?.write(`${JSON.stringify(command)}\n`)
  }

  /** SIGKILL, and wait until it is gone. */
  async killHard(): Promise<void> {
    this.kill('SIGKILL')
    await within(this.exited, 5_000, `${this.name} ${this.pid} to die after SIGKILL`)
  }

  /** Events that match. */
  all(predicate: (event: FixtureEvent) => boolean): FixtureEvent[] {
    return this.events.filter(predicate)
  }

  /** The first event that matches, waiting up to `timeout`; fails early if the process exits first. */
  async waitFor(predicate: (event: FixtureEvent) => boolean, what: string, timeout = 10_000): Promise<FixtureEvent> {
    return this.waitForCount(predicate, 1, what, timeout).then((found) => found[0] as FixtureEvent)
  }

  /** `count` matching events, waiting up to `timeout`. */
  waitForCount(predicate: (event: FixtureEvent) => boolean, count: number, what: string, timeout = 10_000): Promise<FixtureEvent[]> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.all(predicate)
        if (found.length >= count) return done(() => resolve(found))
        if (this.exit !== undefined) return done(() => reject(this.failure(`exited (${JSON.stringify(this.exit)}) before ${what}`)))
      }
      const timer = setTimeout(() => done(() => reject(this.failure(`no ${what} within ${timeout} ms`))), timeout)
      const done = (settle: () => void): void => {
        clearTimeout(timer)
        this.wake.delete(check)
        settle()
      }
      this.wake.add(check)
      check()
    })
  }

  /** Waits for the fixture's `listening` event and returns its port. */
  async port(): Promise<number> {
    const event = await this.waitFor((e) => e.event === 'listening', `${this.name} listening`)
    return event.port as number
  }

  private failure(message: string): Error {
    return new Error(`${this.name} (pid ${this.pid}): ${message}\n--- stderr ---\n${this.stderr}`)
  }

  private notify(): void {
    for (const check of [...this.wake]) check()
  }
}

const running = new Set<FixtureProcess>()
// Last resort if the worker exits without its afterEach (a crash): no fixture is left behind.
process.once('exit', () => {
  for (const fixture of running) fixture.kill('SIGKILL')
})

/** Spawns fixtures/<name>.mjs with `env` added to this process's environment. */
export function spawnFixture(name: FixtureName, env: Record<string, string | number> = {}): FixtureProcess {
  return new FixtureProcess(name, Object.fromEntries(Object.entries(env).map(([key, value]) => [key, String(value)])))
}

/** Spawns any Node script (an example app's built entry) as a fixture named `name`. */
export function spawnScript(name: string, script: string, env: Record<string, string | number> = {}): FixtureProcess {
  return new FixtureProcess(name, Object.fromEntries(Object.entries(env).map(([key, value]) => [key, String(value)])), script)
}

const clients = new Set<Client<Api>>()

/** A client of the shared router that reconnects fast, with full jitter, and never for long. */
export function makeClient(url: string, options: Partial<Omit<ClientOptions, 'url'>> = {}): Client<Api> {
  const client = createClient(api, {
    url,
    WebSocket,
    timeout: 10_000,
    reconnect: { retries: 50, retryDelay: 100, maxRetryDelay: 500, stableAfter: 5_000 },
    ...options,
  })
  clients.add(client)
  return client
}

/** Every state change of a client, with the time it happened (performance.now()). */
export function recordStates(client: Client<Api>): (StateEvent & { at: number })[] {
  const log: (StateEvent & { at: number })[] = []
  client.on('state', (event) => log.push({ ...event, at: performance.now() }))
  return log
}

/** For afterEach: closes every client, then SIGKILLs every fixture still running and waits for it. */
export async function cleanUp(): Promise<void> {
  const closing = [...clients].map((client) => within(client.close(), 3_000, 'client.close()').catch(() => {}))
  clients.clear()
  await Promise.all(closing)
  await Promise.all([...running].map((fixture) => fixture.killHard()))
}

/** `promise`, or a rejection naming `what` after `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Resolves with what `promise` settles with: its value, or the error it rejects with. */
export function settled<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  )
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
