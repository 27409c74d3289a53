/**
 * Starts a built example (the chat, the dashboard) as a child process on a free port and
 * reads its URL from the line it prints, so browser tests exercise exactly what `npm start`
 * runs.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

export interface ExampleServer {
  url: string
  stop: () => Promise<void>
}

/**
 * Starts `dist/server.js` of `example` (default the chat) on a free port; `env` adds to the
 * environment (REDIS_URL, NODE_ID).
 */
export function startExample(env: NodeJS.ProcessEnv = {}, example = '@patchbay/example-chat'): Promise<ExampleServer> {
  const require = createRequire(import.meta.url)
  const root = dirname(require.resolve(`${example}/package.json`))
  const child: ChildProcess = spawn(process.execPath, [join(root, 'dist/server.js')], {
    // The memory engine unless `env` names a Redis.
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', REDIS_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
    })
  return new Promise((resolve, reject) => {
    let output = ''
    child.once('exit', (code) => reject(new Error(`example exited with ${String(code)} before listening: ${output}`)))
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /listening on (http:\/\/\S+)/.exec(output)
      if (match?.[1] !== undefined) resolve({ url: match[1], stop })
    })
  })
}
