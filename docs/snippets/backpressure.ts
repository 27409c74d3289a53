// backpressure.ts: limits per connection, a policy per topic, a producer that waits
import { z } from 'zod'
import WebSocket from 'ws'
import { router, topic } from '@patchbay/core'
import { createServer } from '@patchbay/server'
import { createClient } from '@patchbay/client'

export const app = router({
  // A cursor's old positions are worthless: a slow reader gets only the newest.
  cursor: topic({ params: z.object({ doc: z.string() }), message: z.object({ x: z.number(), y: z.number() }), backpressure: 'latest' }),
  metrics: topic({ message: z.object({ cpu: z.number() }) }),
  log: topic({ message: z.string(), publish: 'client' }),
})

const server = createServer(app, {
  handlers: {},
  // Per connection: stop reading it and apply topic policies above 256 KiB buffered,
  // close it with 4507 rather than buffer more than 4 MiB.
  backpressure: { highWaterMark: 256 * 1024, maxBuffered: 4 * 1024 * 1024 },
  // The server's options override the router's: metrics are dropped, and counted, sooner.
  topics: { metrics: { backpressure: 'drop', highWaterMark: 64 * 1024 } },
})
await server.listen({ port: 3000 })

const client = createClient(app, { url: 'ws://127.0.0.1:3000', WebSocket, highWaterMark: 512 * 1024, maxQueued: 100 })

// Nothing is lost silently: a gap or a lag notice says how many messages were missed.
client.metrics.subscribe(
  (sample, { seq }) => console.log(seq, sample.cpu),
  { onLag: ({ missed }) => console.warn(`missed ${missed} samples`) },
)

// A fast producer: wait for the socket to drain instead of growing the send queue.
for (let line = 0; line < 100_000; line++) {
  client.log.publish(`line ${line}`).catch((error: unknown) => console.error(error))
  if (client.bufferedAmount > 256 * 1024) await client.drained()
}
