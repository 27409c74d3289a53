/**
 * `@patchbay/client/slim`: the client made from a router's shape, for browser bundles
 * (docs/guide/bundling.md). Only the JSON codec is built in: MessagePack is opted into by
 * passing its codec, then offered first (`encodings: [msgpackCodec, 'json']`, `msgpackCodec`
 * from `@patchbay/core/msgpack`); topics and streams come with the shape when its router has
 * them. Everything else is `@patchbay/client`'s.
 */
export { createSlimClient as createClient } from './slim-client.js'
export type { SlimClientOptions } from './slim-client.js'
export { ENDPOINT, endpointOf } from './endpoint.js'
export type { EndpointInfo } from './endpoint.js'
export type { Client, ClientControls, ClientProcedures, ClientState, ClientTopic, ProcedureCall, StateEvent, StreamCall } from './types.js'
export type { EventMeta, LagEvent, SubscribeOptions, TopicListener, Unsubscribe } from './subscriptions.js'
export type { StreamOptions } from './stream.js'
export type { IterateOptions } from './iterate.js'
export type { ReconnectOptions, WebSocketConstructor, WebSocketLike } from './options.js'
export type { CallOptions, ClientStats } from './request-manager.js'
export type { ClientInstrumentation, RequestKind, RequestScope, RequestStart } from './instrumentation.js'
export type { ConnectionState } from './connection.js'
export type { EndpointShape, RouterShape, ShapeFeatures, ShapeOf, ShapeTree } from './shape.js'
