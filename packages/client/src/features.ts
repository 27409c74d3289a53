/**
 * What a client needs beyond calls, by feature: the subscription table and topic iteration
 * (topics.ts), flow-controlled streams (streams.ts). `createClient` takes them as values, so a
 * bundle carries only those its router uses: `@patchbay/client` passes both, and a router's
 * shape imports those its router has (docs/guide/bundling.md). A client whose router has
 * neither gets the stand-ins below, a few bytes instead of ~7 KB of minified code.
 */
import type { IterateOptions } from './iterate.js'
import type { Diagnostics } from './node-diagnostics.js'
import type { openStream } from './stream.js'
import type { Subscriptions } from './subscriptions.js'

/** The subscription table as the client drives it. */
export type TopicTable = Pick<Subscriptions, 'add' | 'handle' | 'handleLag' | 'endAll' | 'suspend' | 'resubscribe'>

/** The client's features, each a value a bundle includes only when something imports it. */
export interface Features {
  /** Makes the client's subscription table. */
  Subscriptions: new (...args: ConstructorParameters<typeof Subscriptions>) => TopicTable
  /** A topic's messages as an async iterator. (Method syntax: it takes the table the client made.) */
  iterateTopic(subscriptions: TopicTable, path: string, params: unknown, options?: IterateOptions): AsyncIterableIterator<unknown>
  /** Starts a stream. */
  openStream: typeof openStream
  /** Why a connection failed, as far as Node's `ws` says (node-diagnostics.ts); a browser says nothing, so its bundles leave it out. */
  diagnostics?: Diagnostics
}

/** Topics: subscribe, iterate, publish (`topics` from `@patchbay/client/features`). */
export type TopicsFeature = Pick<Features, 'Subscriptions' | 'iterateTopic'>
/** Streams (`streams` from `@patchbay/client/features`). */
export type StreamsFeature = Pick<Features, 'openStream'>

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
  iterateTopic: () => {
    throw missing('topics')
  },
  openStream: () => {
    throw missing('streams')
  },
}
