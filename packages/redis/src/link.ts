/**
 * A connection's state as the engine sees it, for the command connection (a `Redis` or a
 * `Cluster`) and for every subscriber connection alike.
 */
import type { Cluster, Redis } from 'ioredis'

/**
 * The error of an operation the engine could not do because Redis is unreachable or failed.
 * Patchbay's server turns it into `UNAVAILABLE` (retryable, docs/protocol.md §6) for
 * `server.publish` and a client's `pub` or `sub`, keeping it as the error's `cause`.
 */
export class RedisEngineError extends Error {
  override readonly name = 'RedisEngineError'
}

/** Any error as a RedisEngineError (the original kept as its cause). */
export function asError(error: unknown): RedisEngineError {
  if (error instanceof RedisEngineError) return error
  return new RedisEngineError(error instanceof Error ? error.message : String(error), { cause: error })
}

/** `failed` once the connection lost Redis, until it is ready again. */
export class Link<Client extends Redis | Cluster = Redis | Cluster> {
  failed = false
  everReady = false
  constructor(readonly redis: Client) {
    redis.on('ready', () => {
      this.failed = false
      this.everReady = true
    })
    const fail = (): void => {
      this.failed = true
    }
    redis.on('close', fail)
    redis.on('error', fail)
  }

  get ready(): boolean {
    return this.redis.status === 'ready'
  }

  /**
   * Resolves once the connection is ready: at once when it is, with an error at once when it
   * lost Redis (fail fast, no queue), and within `timeoutMs` while it connects the first time.
   */
  whenReady(timeoutMs: number): Promise<void> {
    if (this.ready) return Promise.resolve()
    if (this.failed || this.everReady) return Promise.reject(new RedisEngineError('Redis is unreachable'))
    return new Promise((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer)
        this.redis.off('ready', onReady)
        this.redis.off('close', onClose)
        if (error === undefined) resolve()
        else reject(error)
      }
      const onReady = (): void => done()
      const onClose = (): void => done(new RedisEngineError('Redis is unreachable'))
      const timer = setTimeout(() => done(new RedisEngineError(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs)
      this.redis.on('ready', onReady)
      this.redis.on('close', onClose)
    })
  }
}
