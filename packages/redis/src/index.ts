export { createRedisEngine, RedisEngineError } from './engine.js'
export type { RedisEngineOptions, RedisEngineCommonOptions } from './engine.js'
export { keysOf } from './keys.js'
export type { ChannelKeys } from './keys.js'
