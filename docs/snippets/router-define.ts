// router-define.ts: the shared router, imported by server and client; schemas only, no handlers
import { z } from 'zod'
import { procedure, router, stream, topic } from '@patchbay/core'

const Todo = z.object({ id: z.string(), title: z.string(), done: z.boolean() })

export const app = router({
  // No input: the client calls `client.health()` with no argument.
  health: procedure({ output: z.literal('ok') }),
  todos: {
    // `limit` may be left out by the caller; the handler always sees a number.
    list: procedure({
      input: z.object({ done: z.boolean().optional(), limit: z.number().int().min(1).max(100).default(20) }),
      output: z.array(Todo),
    }),
    // The caller sends an ISO string; the handler sees a Date.
    dueBefore: procedure({ input: z.object({ at: z.iso.datetime().transform((at) => new Date(at)) }), output: z.array(Todo) }),
    // Safe to run twice, so the client retries it after a dropped connection (§4.2).
    add: procedure({ input: z.object({ title: z.string().trim().min(1) }), output: Todo, idempotent: true }),
    // A flow-controlled stream of items, and a pub/sub topic with one channel per list.
    all: stream({ input: z.object({ done: z.boolean() }), output: Todo }),
    changed: topic({ params: z.object({ list: z.string() }), message: Todo }),
  },
})
