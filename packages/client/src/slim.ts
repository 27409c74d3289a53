/**
 * `@patchbay/client/slim`: the client with only the JSON codec built in, for browser bundles
 * (docs/guide/bundling.md). MessagePack is opted into by passing its codec, which is then
 * offered first: `encodings: [msgpackCodec, 'json']` with `msgpackCodec` from
 * `@patchbay/core/msgpack`. Everything else is `@patchbay/client`'s.
 */
export { createSlimClient as createClient } from './slim-client.js'
export type { SlimClientOptions } from './slim-client.js'
export type { Client, ClientControls, ClientProcedures, ClientState, ClientTopic, ProcedureCall, StateEvent, StreamCall } from './types.js'
export type { EventMeta, LagEvent, SubscribeOptions, TopicListener, Unsubscribe } from './subscriptions.js'
export type { StreamOptions } from './stream.js'
export type { IterateOptions } from './iterate.js'
export type { ReconnectOptions, WebSocketConstructor, WebSocketLike } from './options.js'
export type { CallOptions, ClientStats } from './request-manager.js'
export type { ConnectionState } from './connection.js'
export type { EndpointShape, RouterShape, ShapeOf, ShapeTree } from './shape.js'
