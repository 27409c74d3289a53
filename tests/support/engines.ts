/**
 * Every topic engine the shared topic, resume and retention suites run over (crossws's "one
 * shared suite run over every adapter"): an engine joins the list and passes the same tests.
 * The memory engine, the fake, and `@patchbay/redis` over a real redis-server (one per test
 * file, started in `setup`; each engine gets its own key prefix, so tests never share a channel).
 */
import { afterAll, beforeAll, describe } from 'vitest'
import { createMemoryEngine, type Engine, type RetentionLimits } from '@patchbay/server'
import { createRedisEngine } from '@patchbay/redis'
import { FakeEngine, NO_FAULTS } from '../server/fake-engine.js'
import { RedisServer } from './redis.js'

export interface EngineCase {
  readonly name: string
  /** A fresh engine for one server. */
  create(): Engine
  /**
   * A fresh engine with these bounds on channels kept in this process for returning
   * subscribers; absent for an engine whose retained channels live elsewhere (Redis TTLs),
   * which skips the suites about those bounds.
   */
  bounded?(retention: Partial<RetentionLimits>): Engine
  /** Starts what the engine needs (a redis-server) before the suite; `teardown` stops it. */
  setup?(): Promise<void>
  teardown?(): Promise<void>
}

let redis: RedisServer | undefined
let prefixes = 0

/** The Redis engine over one redis-server per test file. */
const REDIS: EngineCase = {
  name: 'redis',
  create() {
    if (redis === undefined) throw new Error('the redis engine case was not set up')
    return createRedisEngine({ url: redis.url, prefix: `t${++prefixes}:` })
  },
  async setup() {
    redis ??= await RedisServer.start()
  },
  async teardown() {
    await redis?.stop()
    redis = undefined
  },
}

export const ENGINES: readonly EngineCase[] = [
  { name: 'memory', create: () => createMemoryEngine(), bounded: (retention) => createMemoryEngine({ retention }) },
  // The seam's asynchronous path with nothing lost: a test double, not a product engine.
  { name: 'fake (async, no faults)', create: () => new FakeEngine(NO_FAULTS) },
  REDIS,
]

let current: EngineCase | undefined

/** The engine case of the suite running now (set by {@link describeEachEngine}). */
export function engineCase(): EngineCase {
  if (current === undefined) throw new Error('engineCase() outside describeEachEngine')
  return current
}

/** A fresh engine of the suite running now, for `createServer(api, { engine: engine() })`. */
export function engine(): Engine {
  return engineCase().create()
}

/** Runs `suite` once per engine in `cases`, named after it. */
export function describeEachEngine(suite: () => void, cases: readonly EngineCase[] = ENGINES): void {
  describe.each(cases)('engine: $name', (each) => {
    beforeAll(async () => {
      current = each
      await each.setup?.()
    })
    afterAll(async () => {
      current = undefined
      await each.teardown?.()
    })
    suite()
  })
}

/** A fresh engine of the suite running now with retention bounds (only for cases that have {@link EngineCase.bounded}). */
export function boundedEngine(retention: Partial<RetentionLimits>): Engine {
  const bounded = engineCase().bounded
  if (bounded === undefined) throw new Error(`engine ${engineCase().name} has no retention bounds in this process`)
  return bounded(retention)
}
