/**
 * The router the page and the server share. Schemas only: safe to bundle for the browser.
 */
import { z } from 'zod'
import { procedure, router } from '@patchbay/core'

export const Message = z.object({
  id: z.string(),
  room: z.string(),
  author: z.string(),
  text: z.string(),
  at: z.number(),
})
export type Message = z.infer<typeof Message>

const Room = z.string().trim().min(1).max(40)

export const api = router({
  chat: {
    send: procedure({
      input: z.object({ room: Room, author: z.string().trim().min(1).max(40), text: z.string().trim().min(1, 'Say something').max(2000) }),
      output: z.object({ id: z.string(), at: z.number() }),
    }),
    history: procedure({
      input: z.object({ room: Room, limit: z.number().int().min(1).max(200).default(50) }),
      output: z.array(Message),
    }),
  },
  math: {
    add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }),
  },
  whoami: procedure({ output: z.object({ connection: z.string(), encoding: z.enum(['json', 'msgpack']) }) }),
})
