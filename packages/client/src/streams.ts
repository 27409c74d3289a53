/** The streams feature: flow-controlled streams (features.ts). */
import type { StreamsFeature } from './features.js'
import { openStream } from './stream.js'

/** Streams for a client made from a shape: the shape module imports it when its router has streams. */
export const streams: StreamsFeature = { openStream }
