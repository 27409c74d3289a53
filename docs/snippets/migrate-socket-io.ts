// migrate-socket-io.ts: socket.io rooms as typed, parameterised topics
import { z } from 'zod'
import WebSocket from 'ws'
import { procedure, router, topic } from '@patchbay/core'
import { createServer } from '@patchbay/server'
import { createClient } from '@patchbay/client'

const Message = z.object({ author: z.string(), text: z.string().min(1).max(2000) })

export const api = router({
  // socket.io: socket.emit('message', …) with an ack. Here: a call with a typed answer.
  send: procedure({ input: z.object({ room: z.string(), text: z.string() }), output: z.object({ delivered: z.number() }) }),
  // socket.io: a room. Here: one channel per `room` param; subscribing is joining.
  room: topic({ params: z.object({ room: z.string() }), message: Message }),
  // socket.io: socket.emit to one socket. Here: a per-connection topic.
  notices: topic({ message: z.object({ text: z.string() }) }),
})

const server = createServer(api, {
  context: ({ url }) => ({ name: url.searchParams.get('name') ?? 'guest' }),
  topics: {
    // socket.io's join had no rule; a topic says who may subscribe.
    room: { authorize: ({ params }) => params.room !== 'staff', history: 50 },
    notices: { scope: 'connection' },
  },
  handlers: {
    send: ({ input, ctx, connection }) => {
      // io.to(room).emit('message', …): validated and encoded once for every subscriber.
      const delivered: number = server.publish(api.room, { room: input.room }, { author: ctx.name, text: input.text })
      server.publishTo(connection.id, api.notices, undefined, { text: `sent to ${delivered}` })
      return { delivered }
    },
  },
})
await server.listen({ port: 3000 })

const client = createClient(api, { url: 'ws://127.0.0.1:3000?name=ada', WebSocket })
// socket.emit('join', 'lobby') + socket.on('message', …), in one typed call:
const leave = client.room.subscribe({ room: 'lobby' }, (message) => console.log(`${message.author}: ${message.text}`))
await leave.ready
client.notices.subscribe(({ text }) => console.log(text))
const { delivered } = await client.send({ room: 'lobby', text: 'hello' })
console.log(delivered)
leave() // socket.emit('leave', 'lobby')
