/**
 * fixtures/heap-server.mjs in a child process with --expose-gc, driven over IPC: its port,
 * its heap after a full GC with its counters, and every uncaught exception or unhandled
 * rejection it reported (it keeps running after one, so a test can assert there were none).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** What the child reports when asked for its heap. */
export interface HeapReport {
  heapUsed: number
  external: number
  topicStats: { channels: number; subscriptions: number; retained: number; retainedBytes: number; evictions: number }
  stats: Record<string, number>
  connections: number
}

/** One uncaught exception or unhandled rejection in the child. */
export interface Fault {
  kind: string
  message: string
}

/** A running heap-server child. */
export class HeapServer {
  readonly faults: Fault[] = []
  stderr = ''
  private readonly child: ChildProcess
  private readonly waiting: ((report: HeapReport) => void)[] = []
  readonly port: Promise<number>
  readonly exited: Promise<number | null>

  constructor(env: Record<string, string> = {}) {
    const script = fileURLToPath(new URL('./fixtures/heap-server.mjs', import.meta.url))
    this.child = fork(script, [], { execArgv: ['--expose-gc'], env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
    this.child.stderr?.setEncoding('utf8')
    this.child.stderr?.on('data', (chunk: string) => (this.stderr += chunk))
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)))
    this.port = new Promise((resolve, reject) => {
      void this.exited.then((code) => reject(new Error(`heap-server exited (${String(code)}) before listening\n${this.stderr}`)))
      this.child.on('message', (message: { type: string } & Record<string, unknown>) => {
        if (message.type === 'listening') resolve(message.port as number)
        else if (message.type === 'fault') this.faults.push({ kind: String(message.kind), message: String(message.message) })
        else if (message.type === 'heap') this.waiting.shift()?.(message as unknown as HeapReport)
      })
    })
  }

  /** True until the child exits. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** The child's heap after two full GCs, with its counters. */
  heap(): Promise<HeapReport> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`heap-server did not report its heap\n${this.stderr}`)), 10_000)
      this.waiting.push((report) => {
        clearTimeout(timer)
        resolve(report)
      })
      this.child.send({ type: 'heap' })
    })
  }

  /** Kills the child and waits until it is gone. */
  async stop(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL')
    await this.exited
  }
}
