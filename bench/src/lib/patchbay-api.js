/**
 * The Patchbay router of the bench, shared by its server and load: the same tiny `add` as
 * every other system, validated with zod like tRPC's.
 */
import { procedure, router, stream, topic } from '@patchbay/core'
import { z } from 'zod'

export const api = router({
  math: {
    add: procedure({ input: z.object({ a: z.number(), b: z.number() }), output: z.number() }),
  },
  // large-messages: the payload back as it came, a string (JSON) or bytes (msgpack: bin).
  // One procedure per kind: a union would fail its first branch on every call of the other
  // kind (zod builds the issue), a cost per call that is the bench's, not Patchbay's.
  blob: {
    text: procedure({ input: z.string(), output: z.string() }),
    bytes: procedure({ input: z.instanceof(Uint8Array), output: z.instanceof(Uint8Array) }),
  },
  // Fan-out and slow-consumer: the load publishes from a client, as the raw ws and socket.io
  // loads do; each publish is validated, answered, and encoded once for all subscribers.
  // The default backpressure policy ('queue'): a congested subscriber gets every event
  // until the connection's hard limit closes it with 4507.
  feed: topic({
    params: z.object({ topic: z.string() }),
    message: z.object({ seq: z.number(), body: z.string() }),
    publish: 'client',
  }),
  // stream-throughput: at most `count` items {n, ts}; every item is validated by the server
  // against `output` (Patchbay always does for stream items).
  ticks: stream({
    input: z.object({ count: z.number().int().positive() }),
    output: z.object({ n: z.number(), ts: z.number() }),
  }),
})
