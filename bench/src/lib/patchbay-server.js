/**
 * Patchbay's server (createServer + listen) with the bench router. It accepts both
 * encodings; the load picks one by the subprotocol it offers.
 */
import { createServer } from '@patchbay/server'
import { api } from './patchbay-api.js'
import { LISTEN_BACKLOG, serve } from './server-main.js'
import { streamItem } from './stream-item.js'

/** @param {'json' | 'msgpack'} encoding */
export function servePatchbay(encoding) {
  return serve((params) => startPatchbay(encoding, params))
}

/**
 * Starts the server in this process (the bench's children, and tools/inproc.js).
 * @param {'json' | 'msgpack'} encoding
 * @param {Record<string, any>} params
 */
export async function startPatchbay(encoding, params) {
  // Default backpressure limits, unless the scenario sets the hard limit (slow-consumer
  // does, so that it is reached within its short window); the high-water mark stays at its
  // default of 512 KiB or at the hard limit if that is lower.
  const maxBuffered = typeof params.maxBuffered === 'number' ? params.maxBuffered : undefined
  // The Redis scale-out runs (scale-redis.js) give every node the same Redis; every other
  // scenario uses the default in-process memory engine.
  const redisUrl = typeof params.redisUrl === 'string' ? params.redisUrl : undefined
  // Loaded only for those runs: ioredis and its dependencies are code the in-process engine
  // never runs, and loading them grows V8's young generation (startup objects survive its
  // scavenges), which every later allocation then touches: ~5 KiB of RSS per connection in
  // idle-memory (2,000 connections), none of it Patchbay's.
  const createRedisEngine = redisUrl === undefined ? undefined : (await import('@patchbay/redis')).createRedisEngine
  const server = createServer(api, {
    encodings: [encoding],
    // BENCH_REDIS_COMMAND_TIMEOUT_MS: the engine's commandTimeoutMs (default 1000), to see
    // what a slow Redis does to a resume storm.
    ...(redisUrl === undefined
      ? {}
      : { engine: /** @type {NonNullable<typeof createRedisEngine>} */ (createRedisEngine)({ url: redisUrl, ...(process.env.BENCH_REDIS_COMMAND_TIMEOUT_MS ? { commandTimeoutMs: Number(process.env.BENCH_REDIS_COMMAND_TIMEOUT_MS) } : {}) }) }),
    // scale-redis.js --history N: the fan-out topic keeps N events per channel (with Redis,
    // one more XADD and PEXPIRE in each publish's script).
    ...(typeof params.history === 'number' ? { topics: { feed: { history: params.history } } } : {}),
    // The per-connection rate limit (default 10,000 messages/s) would refuse the bench's
    // loads, which flood one socket on purpose (rpc-throughput: ~80,000 calls/s; a stream's
    // credit messages). It stays on, so every message still pays for its token, with a
    // ceiling no scenario reaches, as for a trusted service-to-service link.
    rateLimit: { perSecond: 1_000_000_000, burst: 1_000_000_000 },
    // large-messages: a 1 MiB payload in its envelope is over the default maxPayload (1 MiB).
    ...(typeof params.maxPayload === 'number' ? { limits: { maxPayload: params.maxPayload } } : {}),
    ...(maxBuffered === undefined ? {} : { backpressure: { maxBuffered, highWaterMark: Math.min(524_288, maxBuffered) } }),
    handlers: {
      math: { add: ({ input }) => input.a + input.b },
      blob: { text: ({ input }) => input, bytes: ({ input }) => input },
      async *ticks({ input }) {
        for (let n = 0; n < input.count; n++) yield streamItem(n)
      },
    },
  })
  const { port } = await server.listen({ port: 0, host: '127.0.0.1', backlog: LISTEN_BACKLOG })
  return {
    port,
    stats: () => {
      const { pauses, dropped, slowConsumers } = server.stats
      return { pauses, dropped, slowConsumers }
    },
    close: () => server.close(),
  }
}
