// react-api.ts: the router the React pages use, schemas only (safe to bundle for the browser)
import { z } from 'zod'
import { procedure, router, stream, topic } from '@patchbay/core'

const Message = z.object({ author: z.string(), text: z.string().min(1) })

export const api = router({
  math: {
    add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }),
  },
  chat: {
    history: procedure({ input: z.object({ room: z.string() }), output: z.array(Message) }),
    send: procedure({ input: z.object({ room: z.string(), message: Message }), output: z.null() }),
    room: topic({ params: z.object({ room: z.string() }), message: Message }),
  },
  logs: {
    tail: stream({ input: z.object({ service: z.string() }), output: z.object({ at: z.number(), line: z.string() }) }),
  },
})
