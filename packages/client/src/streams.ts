/** The streams feature: each stream procedure's function (features.ts). */
import { withEndpoint } from './endpoint.js'
import { failingIterator } from './failing-iterator.js'
import type { StreamsFeature } from './features.js'
import { openStream, type StreamOptions } from './stream.js'

/** Streams for a client made from a shape: the shape module imports it when its router has streams. */
export const streams: StreamsFeature = {
  stream: (host, path) =>
    withEndpoint(
      (input?: unknown, options?: StreamOptions) => {
        const closed = host.start()
        return closed === undefined ? openStream(host, path, input, options) : failingIterator(closed)
      },
      { kind: 'stream', path },
    ),
}
