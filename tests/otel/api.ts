/** The router of the OpenTelemetry suites: imported by the Node tests and bundled into the Chromium page. */
import { z } from 'zod'
import { procedure, router, stream, topic } from '@patchbay/core'

export const api = router({
  math: { add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }) },
  /** Answers with the span context active in the handler, so a test sees the server span was active. */
  whoami: procedure({ output: z.object({ traceId: z.string(), spanId: z.string() }) }),
  fail: { forbidden: procedure({ output: z.null() }) },
  /** Never answers; resolves `aborted` when its signal aborts. */
  hold: procedure({ output: z.null() }),
  count: stream({ input: z.object({ to: z.number().int() }), output: z.number() }),
  chat: { room: topic({ params: z.object({ room: z.string() }), message: z.object({ text: z.string() }), publish: 'client' }) },
})
