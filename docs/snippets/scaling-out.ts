// scaling-out.ts: the same router on N server processes sharing their topics through Redis
import { z } from 'zod'
import { procedure, router, topic } from '@patchbay/core'
import { createServer } from '@patchbay/server'
import { createRedisEngine } from '@patchbay/redis'

export const chat = router({
  send: procedure({ input: z.object({ room: z.string(), text: z.string() }), output: z.object({ delivered: z.number() }), idempotent: true }),
  room: topic({ params: z.object({ room: z.string() }), message: z.object({ text: z.string() }) }),
})

// Every node runs this with the same REDIS_URL (and the same `prefix`, if you set one).
const engine = createRedisEngine({
  url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  // Connection errors are reported here and never emitted unhandled.
  onError: (error) => console.warn('redis:', error.message),
})

const server = createServer(chat, {
  engine,
  // History lives in Redis: a client that reconnects to ANY node resumes from its last seq.
  topics: { room: { history: 200 } },
  handlers: {
    // With an engine in another process, publish returns a promise: it settles once Redis took
    // the message and this node handed it to its own subscribers. While Redis is down it
    // rejects with a PatchbayError UNAVAILABLE (retryable), which reaches the caller as is.
    send: async ({ input }): Promise<{ delivered: number }> => ({
      delivered: await server.publish(chat.room, { room: input.room }, { text: input.text }),
    }),
  },
})

await server.listen({ port: Number(process.env.PORT ?? 3000) })
console.log(`node on :${process.env.PORT ?? 3000}, topics on Redis`, server.topicStats.engine)
