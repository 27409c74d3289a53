/**
 * The Lua scripts of the Redis engine. Redis runs a script alone, so each is one atomic step:
 * every node sees one order of seqs per channel, and an event is in the stream before any
 * node can receive it (engine.ts's contract). Sent with EVALSHA, falling back to EVAL when
 * Redis does not know the script (a restart, SCRIPT FLUSH): ioredis's `defineCommand`.
 */

/**
 * Publish. KEYS: meta, stream. ARGV: epoch to use if the channel has none, history length,
 * TTL in ms, msgpack data, pub/sub channel, `PUBLISH` (one server) or `SPUBLISH` (a cluster:
 * sharded pub/sub, the channel in the keys' slot through their shared hash tag). Returns
 * `{ epoch, seq }`.
 *
 * - No meta (never published, expired, evicted, Redis restarted empty): the offered epoch
 *   starts the channel, so every subscriber learns that what came before is unknown.
 * - seq 1 deletes a stream that outlived its meta (eviction drops keys one by one), so stream
 *   ids always equal seqs of the current epoch.
 * - XADD with the seq as id, trimmed exactly to `history` (a resume gets its exact gap).
 * - Both keys get the TTL (≥ the topic's retainMs; the engine refreshes held channels).
 * - PUBLISH last, inside the script: no node receives seq n before n is stored, and no two
 *   publishes interleave between INCR and PUBLISH.
 */
export const PUBLISH_LUA = `
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'e', epoch)
end
local seq = redis.call('HINCRBY', KEYS[1], 's', 1)
if seq == 1 then redis.call('DEL', KEYS[2]) end
local history = tonumber(ARGV[2])
if history > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', history, seq .. '-0', 'd', ARGV[4])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call(ARGV[6], ARGV[5], seq .. ':' .. epoch .. ':' .. ARGV[4])
return { epoch, seq }
`

/**
 * Read. KEYS: meta, stream. ARGV: epoch to use if the channel has none (or a new one), since
 * (-1: none asked), TTL in ms, the epoch `since` was delivered in ('' when the read is not the
 * node's own position). Returns `{ epoch, top, entries }`, entries as XRANGE gives them.
 *
 * A channel without meta is started here, at seq 0, with the offered epoch: the first publish
 * then continues that epoch, so a subscriber that read it sees no false reset.
 *
 * A channel whose seq in the node's epoch is below what the node delivered lost publications
 * Redis had acknowledged (restarted from an AOF with `appendfsync everysec`, a promoted replica
 * that lacked them): its next publishes would take seqs already delivered, which every node
 * drops as repeats. It starts again in the offered epoch, as a lost channel does, so every
 * subscriber is told of the unknown gap.
 */
export const READ_LUA = `
local epoch = redis.call('HGET', KEYS[1], 'e')
local since = tonumber(ARGV[2])
if epoch and epoch == ARGV[4] and since > tonumber(redis.call('HGET', KEYS[1], 's') or '0') then
  epoch = false
end
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'e', epoch, 's', 0)
end
local top = tonumber(redis.call('HGET', KEYS[1], 's') or '0')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
local entries = {}
if since >= 0 and since < top then
  entries = redis.call('XRANGE', KEYS[2], (since + 1) .. '-0', top .. '-0')
end
return { epoch, top, entries }
`

/**
 * Forget (a topic with retainMs 0 lost its last subscriber here). KEYS: meta, stream. ARGV:
 * pub/sub channel, `NUMSUB` (one server) or `SHARDNUMSUB` (a cluster: counted on the channel's
 * master, where its sharded subscriptions are). Deletes the channel unless some node still
 * subscribes to it.
 */
export const FORGET_LUA = `
local held = redis.call('PUBSUB', ARGV[2], ARGV[1])[2]
if held == 0 then redis.call('DEL', KEYS[1], KEYS[2]) end
return held
`
