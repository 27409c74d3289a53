// history.ts: a channel's kept events, typed as its messages, read on the server
import { z } from 'zod'
import { procedure, router, topic } from '@patchbay/core'
import { createServer } from '@patchbay/server'

const Message = z.object({ author: z.string(), text: z.string() })

export const chat = router({
  backlog: procedure({ input: z.object({ room: z.string() }), output: z.array(Message) }),
  room: topic({ params: z.object({ room: z.string() }), message: Message }),
})

const server = createServer(chat, {
  // The room keeps its last 200 messages (docs/protocol.md §12.1).
  topics: { room: { history: 200 } },
  handlers: {
    // Annotated: a handler that reads its own server cannot have its result inferred from it.
    backlog: ({ input }): z.infer<typeof Message>[] => {
      // The newest 50, oldest first; on the memory engine the answer comes at once.
      const { events } = server.history(chat.room, { room: input.room }, { limit: 50 })
      return events.map((event) => event.data)
    },
  },
})

// Paging forward from the last seq a reader saw, within the epoch the answer names.
const page = server.history(chat.room, { room: 'lobby' }, { since: 120, limit: 20 })
console.log(page.epoch, page.seq, page.events.map((event) => event.seq))
