/** The topics feature: the subscription table and topic iteration (features.ts). */
import type { TopicsFeature } from './features.js'
import { iterateTopic } from './iterate.js'
import { Subscriptions } from './subscriptions.js'

/** Topics for a client made from a shape: the shape module imports it when its router has topics. */
export const topics: TopicsFeature = { Subscriptions, iterateTopic }
