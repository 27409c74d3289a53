// cancellation.ts: an AbortSignal cancels the call here and aborts the handler there
import { z } from 'zod'
import WebSocket from 'ws'
import { procedure, router } from '@patchbay/core'
import { createServer } from '@patchbay/server'
import { createClient } from '@patchbay/client'

const reports = router({
  build: procedure({ input: z.object({ year: z.number() }), output: z.string() }),
})

createServer(reports, {
  handlers: {
    build: async ({ input, signal }) => {
      const response = await fetch(`http://127.0.0.1:8080/reports/${input.year}`, { signal })
      return response.text()
    },
  },
})

const client = createClient(reports, { url: 'ws://localhost:3000', WebSocket, timeout: 10_000 })
const controller = new AbortController()
const report = client.build({ year: 2026 }, { signal: controller.signal })
controller.abort() // the call rejects with CANCELLED; the server's handler sees signal.aborted
await report.catch((error: unknown) => console.log(error))
