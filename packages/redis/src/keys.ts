/**
 * Where a channel lives in Redis. Every key of a channel and its pub/sub channel share one
 * hash tag, so a Lua script touching them stays within one slot (Redis Cluster, sharded
 * pub/sub later). The tag is a digest of the channel's name, not the name: Patchbay's channel
 * names hold canonical JSON, whose `{` and `}` would cut a literal tag short.
 */
import { createHash, randomBytes } from 'node:crypto'

/** The Redis names of one Patchbay channel. */
export interface ChannelKeys {
  /** HASH `e` (epoch), `s` (last seq). */
  readonly meta: string
  /** STREAM of the channel's history: id `<seq>-0`, field `d` = msgpack of the data. */
  readonly stream: string
  /** The pub/sub channel its publications travel on: `<seq>:<epoch>:<msgpack data>`. */
  readonly pubsub: string
}

/** The keys of `channel` under `prefix`: `<prefix>{<tag>}:m`, `<prefix>{<tag>}:h`, and `<prefix>{<tag>}`. */
export function keysOf(prefix: string, channel: string): ChannelKeys {
  // 96 bits of SHA-256 in base64url: distinct channels do not meet by chance.
  const tag = createHash('sha256').update(channel).digest('base64url').slice(0, 16)
  const base = `${prefix}{${tag}}`
  return { meta: `${base}:m`, stream: `${base}:h`, pubsub: base }
}

/** A random name for this process, the first part of the epochs it offers. */
export function instanceId(): string {
  return randomBytes(8).toString('base64url').slice(0, 10)
}
