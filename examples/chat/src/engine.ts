/**
 * Where the chat's topics live. With REDIS_URL set, on Redis: every chat server started with
 * the same REDIS_URL shares its rooms (messages, history and presence cross between them).
 * Without it, in this process (the memory engine, Patchbay's default).
 */
import { createMemoryEngine, type Engine } from '@patchbay/server'
import { createRedisEngine } from '@patchbay/redis'

/** The engine the environment asks for, and a line saying which it is. */
export function engineFromEnv(env: NodeJS.ProcessEnv): { engine: Engine; description: string } {
  const url = env.REDIS_URL
  if (url === undefined || url === '') return { engine: createMemoryEngine(), description: 'topics in memory (one node)' }
  return {
    engine: createRedisEngine({
      url,
      // Connection errors are reported by the engine's state (publishes fail with UNAVAILABLE
      // while Redis is down); one line each is enough for a demo.
      onError: (error) => console.error(`redis: ${error.message}`),
    }),
    description: `topics on ${url}`,
  }
}
