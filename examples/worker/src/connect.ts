/**
 * A client of the queue, as the workers and submitters make it: Node's `ws` for the socket,
 * MessagePack for the frames (opted into by passing its codec), and a reconnect tuned for
 * services on one network, where a restarted server is back within seconds.
 */
import WebSocket from 'ws'
import { createClient, type Client } from '@patchbay/client'
import { msgpackCodec } from '@patchbay/core/msgpack'
import { api, type Api } from './api.js'

/** Connects to the queue server at `url` (`ws://host:port`). */
export function connectQueue(url: string): Client<Api> {
  return createClient(api, {
    url,
    WebSocket,
    encodings: [msgpackCodec],
    // Long-running calls (`run`, `take`, `cancelled`) wait for as long as a job takes: no
    // deadline by default; a caller that wants one passes `timeout` or a signal per call.
    timeout: 0,
    // Keep trying (the default), but never more than 2 s apart: the queue's clients are
    // services that should resume as soon as a restarted server listens again.
    reconnect: { retryDelay: 100, maxRetryDelay: 2_000 },
  })
}
