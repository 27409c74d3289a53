/**
 * What a client needs beyond calls, by feature: the subscription table and the topic objects
 * (topics.ts), the stream functions (streams.ts). `createClient` takes them as values, so a
 * bundle carries only those its router uses: `@patchbay/client` passes both, and a router's
 * shape imports those its router has (docs/guide/bundling.md). A client whose router has
 * neither gets the stand-ins below, a few bytes instead of ~7 KB of minified code; the code
 * that makes a topic's or a stream's functions is the feature's, so it too stays out.
 */
import type { PatchbayError } from '@patchbay/core'
import type { Diagnostics } from './node-diagnostics.js'
import type { StreamHost } from './stream.js'
import type { Subscriptions } from './subscriptions.js'

/** The subscription table as the client drives it. */
export type TopicTable = Pick<Subscriptions, 'add' | 'handle' | 'handleLag' | 'endAll' | 'suspend' | 'resubscribe'>

/** What a feature's functions use of the client that made them. */
export interface ClientHost extends StreamHost {
  /** The client's subscription table (made from the topics feature's class). */
  readonly subscriptions: TopicTable
  /**
   * Called by each request before it goes ahead: starts a lazy client and returns undefined,
   * or returns the error a closed client fails the request with.
   */
  start(): PatchbayError | undefined
}

/** The client's features, each a value a bundle includes only when something imports it. */
export interface Features {
  /** Makes the client's subscription table. */
  Subscriptions: new (...args: ConstructorParameters<typeof Subscriptions>) => TopicTable
  /** The object of topic `path`: subscribe, iterate, publish (method syntax: it takes the client's own host). */
  topic(host: ClientHost, path: string, hasParams: boolean): object
  /** The function of stream procedure `path`. */
  stream(host: ClientHost, path: string): object
  /** Why a connection failed, as far as Node's `ws` says (node-diagnostics.ts); a browser says nothing, so its bundles leave it out. */
  diagnostics?: Diagnostics
}

/** Topics: subscribe, iterate, publish (`topics` from `@patchbay/client/features`). */
export type TopicsFeature = Pick<Features, 'Subscriptions' | 'topic'>
/** Streams (`streams` from `@patchbay/client/features`). */
export type StreamsFeature = Pick<Features, 'stream'>

/** Unreachable through a checked shape (slim-client.ts refuses one that lacks a feature it uses). */
const missing = (feature: string): TypeError => new TypeError(`This client was made without ${feature}: regenerate the router's shape (patchbay-shape)`)

/**
 * The table of a client without topics: no subscription can exist, so there is nothing to
 * deliver, suspend, resume or end, and an event or lag notice for a channel it never
 * subscribed to is ignored, as the real table ignores unknown channels.
 */
class NoTopics implements TopicTable {
  add(): never {
    throw missing('topics')
  }
  handle(): void {}
  handleLag(): void {}
  endAll(): void {}
  suspend(): void {}
  /** Nothing to restore: the queue may go out at once. */
  resubscribe(): undefined {
    return undefined
  }
}

/** The features of a client whose router has no topics and no streams. */
export const NO_FEATURES: Features = {
  Subscriptions: NoTopics,
  topic: () => {
    throw missing('topics')
  },
  stream: () => {
    throw missing('streams')
  },
}
