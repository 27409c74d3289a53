// topics.ts: typed, parameterised pub/sub beside the procedures
import { z } from 'zod'
import WebSocket from 'ws'
import { procedure, router, topic } from '@patchbay/core'
import { createServer } from '@patchbay/server'
import { createClient } from '@patchbay/client'

const Message = z.object({ author: z.string(), text: z.string().min(1) })

export const chat = router({
  chat: {
    send: procedure({ input: z.object({ room: z.string(), message: Message }), output: z.null() }),
    room: topic({ params: z.object({ room: z.string() }), message: Message }),
    typing: topic({ params: z.object({ room: z.string() }), message: z.object({ who: z.string() }), publish: 'client' }),
  },
})

const server = createServer(chat, {
  context: ({ cookies }) => ({ user: cookies.session ?? null }),
  handlers: {
    chat: {
      send: ({ input }) => {
        // Validated once, encoded once per codec, sent to every subscriber of the room.
        server.publish(chat.chat.room, { room: input.room }, input.message)
        return null
      },
    },
  },
  topics: {
    chat: {
      room: { authorize: ({ ctx }) => ctx.user !== null },
      typing: { authorizePublish: ({ ctx, data }) => ctx.user === data.who },
    },
  },
})

const client = createClient(chat, { url: 'ws://localhost:3000', WebSocket })
const off = client.chat.room.subscribe({ room: 'lobby' }, (message, { seq }) => {
  console.log(seq, message.author, message.text)
})
await off.ready // confirmed by the server (rejects with FORBIDDEN, BAD_REQUEST…)

for await (const { who } of client.chat.typing.iterate({ room: 'lobby' }, { signal: AbortSignal.timeout(10_000) })) {
  console.log(`${who} is typing`)
}
off()
