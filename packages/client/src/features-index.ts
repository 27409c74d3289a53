/**
 * `@patchbay/client/features`: what a router's shape imports for the topics and streams its
 * router has (docs/guide/bundling.md); `patchbay-shape` writes the import.
 */
export { topics } from './topics.js'
export { streams } from './streams.js'
export type { Features, StreamsFeature, TopicsFeature } from './features.js'
