export { CloseCode, isRetryableClose, truncateCloseReason, MAX_CLOSE_REASON_BYTES } from './close-codes.js'
export type { CloseCodeValue } from './close-codes.js'
export type { LogFn, LogLevel, Logger } from './logger.js'
export { ErrorCode, PatchbayError, isPatchbayError, isErrorCode } from './errors.js'
export type { BuiltinErrorCode, ErrorCodeString, ValidationIssue, WireError, PatchbayErrorOptions } from './errors.js'
export {
  Subprotocol,
  subprotocolOf,
  DEFAULT_ENCODINGS,
  negotiateSubprotocol,
  parseSubprotocolHeader,
  encodingOf,
  AUTH_SUBPROTOCOL_PREFIX,
  authSubprotocol,
  tokenFromSubprotocols,
} from './subprotocol.js'
export type { SubprotocolName, Encoding } from './subprotocol.js'
export { CodecError, CodecErrorKind } from './codec.js'
export { jsonCodec } from './codec-json.js'
export type { Envelope } from './msgpack-envelope.js'
export type { Codec, Frame } from './codec.js'
export { DEFAULT_LIMITS, resolveLimits } from './limits.js'
export { turnNow } from './clock.js'
export type { Limits } from './limits.js'
export { MAX_TRACEPARENT_LENGTH, MAX_TRACESTATE_LENGTH, MessageType, Tag, ProtocolViolation, serverWire, parseClientMessage, parseServerMessage, parseUnrepresentable, isRequestId, isSubscribedOutput } from './messages.js'
export type {
  RequestId,
  CallMessage,
  CancelMessage,
  PingMessage,
  PongMessage,
  ResultMessage,
  ErrorMessage,
  ClientMessage,
  ServerMessage,
  SubMessage,
  UnsubMessage,
  PubMessage,
  EventMessage,
  SubscribedOutput,
  ResumePoint,
  LagMessage,
  CountedLagMessage,
  EpochLagMessage,
  StreamMessage,
  CreditMessage,
  ItemMessage,
  ParseResult,
  ParseLimits,
} from './messages.js'
export { findNonPlainData, hasProtoKey, mayHoldProtoKey, sendableError } from './plain-data.js'
export { validate, isSchema } from './schema.js'
export type { Schema, InferSchemaInput, InferSchemaOutput, ValidationResult } from './schema.js'
export { procedure, stream, topic, router, isProcedure, isStream, isTopic, isBackpressurePolicy, flattenRouter, flatRouter, RESERVED_TOP_LEVEL_NAMES } from './router.js'
export { canonicalJson, channelOf } from './channel.js'
export type {
  Procedure,
  AnyProcedure,
  Topic,
  AnyTopic,
  Stream,
  AnyStream,
  BackpressurePolicy,
  PublishPolicy,
  InferStreamInput,
  InferStreamParsedInput,
  InferStreamHandlerItem,
  InferStreamItem,
  FlatRouter,
  InferTopicParams,
  InferTopicParsedParams,
  InferTopicMessageInput,
  InferTopicMessage,
  RouterDef,
  ProcedureOptions,
  ValidRouterDef,
  InferProcedureInput,
  InferProcedureParsedInput,
  InferProcedureHandlerOutput,
  InferProcedureOutput,
  inferRouterInputs,
  inferRouterOutputs,
} from './router.js'
