// observability-hooks.ts: the instrumentation seam without OpenTelemetry, here a slow-call log
import { createServer, type ServerInstrumentation } from '@patchbay/server'
import { api } from './api.js'

const slowCalls: ServerInstrumentation = {
  request: ({ kind, path }) => {
    const started = performance.now()
    return {
      run: (work) => work(),
      end: (code) => {
        const ms = performance.now() - started
        if (ms > 100) console.warn(`${kind} ${path} took ${ms.toFixed(0)} ms (${code ?? 'OK'})`)
      },
    }
  },
  slowConsumer: (connection, reason) => console.warn(`closed ${connection.id} as a slow consumer: ${reason}`),
}

export const server = createServer(api, {
  instrumentation: slowCalls,
  handlers: { math: { add: ({ input }) => input.a + input.b }, me: () => ({ user: null }) },
})
