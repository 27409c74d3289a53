export { createPatchbayQuery, QUERY_KEY_ROOT } from './query.js'
export type {
  PatchbayPathKey,
  PatchbayQuery,
  PatchbayQueryKey,
  ProcedureMutationInit,
  ProcedureMutationOptions,
  ProcedureQuery,
  ProcedureQueryInit,
  ProcedureQueryOptions,
  QueryCallOptions,
} from './query.js'
export { useSubscription } from './use-subscription.js'
export type { AnyClientTopic, SubscriptionResult, SubscriptionStatus, TopicMessageOf, TopicParamsOf, UseSubscriptionArgs, UseSubscriptionOptions } from './use-subscription.js'
export { useStream } from './use-stream.js'
export type { AnyClientStream, StreamControls, StreamInputOf, StreamItemOf, StreamResult, StreamStatus, UseStreamArgs, UseStreamOptions } from './use-stream.js'
