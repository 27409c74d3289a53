/** The router the React suite shares between its Node server and its page. */
import { z } from 'zod'
import { procedure, router, stream, topic } from '@patchbay/core'

export const api = router({
  math: {
    add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }),
  },
  /** Answers only when aborted (with an error): for unmounting a component mid-call. */
  slow: procedure({ input: z.object({ id: z.string() }), output: z.string() }),
  chat: {
    send: procedure({ input: z.object({ room: z.string(), text: z.string() }), output: z.number() }),
    room: topic({ params: z.object({ room: z.string() }), message: z.object({ text: z.string() }) }),
  },
  /** A topic without params. */
  clock: topic({ message: z.number() }),
  count: stream({ input: z.object({ to: z.number().int().optional(), pause: z.number().int().optional() }), output: z.number() }),
})
