/**
 * The redis-server helper the Redis engine's tests stand on: a machine without redis-server
 * fails them with what to install (never a skip), and a started server answers and stops.
 */
import { describe, expect, it } from 'vitest'
import { RedisServer, redisCommand, requireRedisServer } from '../support/redis.js'

describe('tests/support/redis.ts', () => {
  it('fails with what to install when redis-server is missing', () => {
    expect(() => requireRedisServer('/nonexistent/redis-server')).toThrow(/redis-server is required .*apt-get install redis-server/)
  })

  it('starts a redis-server on a free port without persistence, and stops it', async () => {
    const redis = await RedisServer.start()
    try {
      // *2, $10, appendonly, $2, no: complete after five lines.
      const reply = await redisCommand(redis.port, 'CONFIG GET appendonly', 1000, (text) => text.split('\r\n').length > 5)
      expect(reply).toBe('*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n')
    } finally {
      await redis.stop()
    }
    await expect(redisCommand(redis.port, 'PING')).rejects.toThrow(/ECONNREFUSED/)
  })

  it('with appendonly, a crash loses no write: restarted on the same port and directory, it replays its AOF', async () => {
    const redis = await RedisServer.start([], { appendonly: true })
    try {
      expect(await redis.command('INCRBY kept 41')).toBe(':41\r\n')
      await redis.crash()
      await redis.restart()
      expect(await redis.command('INCRBY kept 1')).toBe(':42\r\n')
    } finally {
      await redis.stop()
    }
  })
})
