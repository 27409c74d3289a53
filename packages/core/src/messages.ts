/**
 * The messages of patchbay.v1, as docs/protocol.md §3–§7 defines them, and the functions
 * that turn a decoded frame into one. Every message is an object whose `t` names its type.
 * Parsing is hand-written rather than schema-driven because it runs on every frame.
 */
import type { ValidationIssue, WireError } from './errors.js'
import { isErrorCode } from './errors.js'
import { findNonPlainData } from './plain-data.js'

/** Message type tags (the `t` field). */
export const MessageType = {
  CALL: 'call',
  CANCEL: 'cancel',
  RESULT: 'result',
  ERROR: 'error',
  PING: 'ping',
  PONG: 'pong',
  SUB: 'sub',
  UNSUB: 'unsub',
  PUB: 'pub',
  EVENT: 'event',
  STREAM: 'stream',
  CREDIT: 'credit',
  ITEM: 'item',
  LAG: 'lag',
} as const

/** A request id: a non-negative safe integer chosen by the client, unique among its calls in flight. */
export type RequestId = number

/** §4 Client → server: run the procedure at `path` with `input`. */
export interface CallMessage {
  t: 'call'
  id: RequestId
  path: string
  input?: unknown
  /**
   * §4.2 Idempotency key: calls with the same key and path run once on the server within its
   * dedupe window; a retry gets the first run's outcome.
   */
  key?: string
  /** §4.3 W3C trace context of the caller's span, for the server's span to join its trace. */
  traceparent?: string
  /** §4.3 W3C vendor trace state, sent only with `traceparent`. */
  tracestate?: string
}
/** §5 Client → server: the caller gave up on call `id`; abort its handler. */
export interface CancelMessage {
  t: 'cancel'
  id: RequestId
}
/** §7 Either direction: are you there? Answered with a pong. */
export interface PingMessage {
  t: 'ping'
}
/** §7 Either direction: the answer to a ping. */
export interface PongMessage {
  t: 'pong'
}
/** §4 Server → client: call `id` succeeded with `output`. */
export interface ResultMessage {
  t: 'result'
  id: RequestId
  output?: unknown
}
/** §6 Server → client: call `id` failed. */
export interface ErrorMessage {
  t: 'error'
  id: RequestId
  error: WireError
}

/** §12 Client → server: subscribe to topic `path` with `params`; answered like a call. */
export interface SubMessage {
  t: 'sub'
  id: RequestId
  path: string
  params?: unknown
  /** §12.1 Where a resubscribing client left off: the server replays what it missed if it can. */
  resume?: ResumePoint
  /** §4.3 W3C trace context of the caller's span, for the server's span to join its trace. */
  traceparent?: string
  /** §4.3 W3C vendor trace state, sent only with `traceparent`. */
  tracestate?: string
}
/** §12.1 A channel's sequence space (`epoch`) and the last message seen in it (`seq`). */
export interface ResumePoint {
  epoch: string
  seq: number
}
/** §12 Client → server: end subscription `id` (the id of its `sub`). Never answered. */
export interface UnsubMessage {
  t: 'unsub'
  id: RequestId
}
/** §13 Client → server: publish `data` to topic `path` with `params`; answered like a call. */
export interface PubMessage {
  t: 'pub'
  id: RequestId
  path: string
  params?: unknown
  data: unknown
  /** §4.3 W3C trace context of the caller's span, for the server's span to join its trace. */
  traceparent?: string
  /** §4.3 W3C vendor trace state, sent only with `traceparent`. */
  tracestate?: string
}
/**
 * §12 Server → client: message number `seq` of channel `ch` (the channel's number, from the
 * `sub` result). The same bytes go to every subscriber.
 */
export interface EventMessage {
  t: 'event'
  ch: number
  seq: number
  data: unknown
}
/**
 * §14 Server → client: the channel's messages after the last one delivered, through `seq`, were
 * dropped because this connection read too slowly (`missed` of them). Delivery continues with
 * seq + 1. Sent once the connection has drained, never silently skipped.
 */
export interface CountedLagMessage {
  t: 'lag'
  ch: number
  seq: number
  missed: number
}
/**
 * §12.1, §14 Server → client: the channel's sequence was lost under its subscribers (the topic
 * engine forgot it) and goes on as `epoch`, whose latest message is `seq` (0 when none): how
 * many messages were missed is unknown. Delivery continues with seq + 1 of that epoch.
 */
export interface EpochLagMessage {
  t: 'lag'
  ch: number
  seq: number
  epoch: string
}
/** §14: a `lag` notice, counted (`missed`) or of unknown size (a new `epoch`). */
export type LagMessage = CountedLagMessage | EpochLagMessage
/**
 * §15 Client → server: start stream procedure `path` with `input`, granting `credit` items.
 * Items come as `item` messages for `id`, at most as many as granted; the stream ends with a
 * `result` (no output) or an `error` for `id`.
 */
export interface StreamMessage {
  t: 'stream'
  id: RequestId
  path: string
  input?: unknown
  credit: number
  /** §15 On a restart after a reconnect: items the client already received from this stream. */
  received?: number
  /** §4.3 W3C trace context of the caller's span, for the server's span to join its trace. */
  traceparent?: string
  /** §4.3 W3C vendor trace state, sent only with `traceparent`. */
  tracestate?: string
}
/** §15 Client → server: the consumer of stream `id` takes `n` more items. */
export interface CreditMessage {
  t: 'credit'
  id: RequestId
  n: number
}
/** §15 Server → client: one item of stream `id`. */
export interface ItemMessage {
  t: 'item'
  id: RequestId
  data: unknown
}
/** What the server answers to a successful `sub` (the `output` of its result). */
export interface SubscribedOutput {
  /**
   * The channel's number: its events and lag notices carry it. Unique among the channels of
   * one server process, never reused by it: a positive safe integer.
   */
  ch: number
  /**
   * Events continue from seq + 1: the channel's latest message (0 before any), or, when a
   * resume succeeded, the client's own seq (the missed events follow at once, §12.1).
   */
  seq: number
  /** Names the channel's sequence space; a different epoch means seqs restarted (a new server). */
  epoch: string
}

/** What a client sends. */
export type ClientMessage =
  | CallMessage
  | CancelMessage
  | PingMessage
  | PongMessage
  | SubMessage
  | UnsubMessage
  | PubMessage
  | StreamMessage
  | CreditMessage
/** What a server sends. */
export type ServerMessage = ResultMessage | ErrorMessage | PingMessage | PongMessage | EventMessage | LagMessage | ItemMessage

/**
 * The outcome of parsing a decoded frame:
 * - `message`: a valid message;
 * - `reject`: a call that is well-addressed (valid id) but unacceptable; answer it with an
 *   error message for that id and keep the connection;
 * - `violation`: a protocol violation; close the connection with the close code given.
 */
export type ParseResult<M> =
  | { kind: 'message'; message: M }
  | { kind: 'reject'; id: RequestId; error: WireError }
  | { kind: 'violation'; reason: string }

/** Limits the parser enforces. */
export interface ParseLimits {
  maxDepth: number
  maxPathLength: number
}

/** True for a valid request id (§4.1). */
export function isRequestId(value: unknown): value is RequestId {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

/** True for a count of items or messages: a positive safe integer. */
function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0
}

const PATH_PATTERN = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$/
/** An idempotency key: 1 to 64 characters of [A-Za-z0-9_-] (a nanoid is 21). */
const KEY_PATTERN = /^[\w-]{1,64}$/
/** An epoch: 1 to 64 characters of [A-Za-z0-9_.-]. */
const EPOCH_PATTERN = /^[\w.-]{1,64}$/

function violation(reason: string): { kind: 'violation'; reason: string } {
  return { kind: 'violation', reason }
}

function badRequest(id: RequestId, message: string, issues?: ValidationIssue[]): ParseResult<never> {
  const error: WireError = { code: 'BAD_REQUEST', message }
  if (issues !== undefined) error.issues = issues
  return { kind: 'reject', id, error }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Checks the id and path shared by call, sub and pub: a violation, a reject, or undefined when fine. */
function checkAddressed(data: Record<string, unknown>, limits: ParseLimits): ParseResult<never> | undefined {
  const id = data.id
  if (!isRequestId(id)) return violation(`${String(data.t)} id is not a non-negative safe integer`)
  const path = data.path
  if (typeof path !== 'string') return badRequest(id, 'path must be a string')
  if (path.length > limits.maxPathLength) return badRequest(id, `path longer than ${limits.maxPathLength} characters`)
  if (!PATH_PATTERN.test(path)) return badRequest(id, 'path is not a dotted identifier')
  return undefined
}

/**
 * §4.3 The longest `traceparent` and `tracestate` a server keeps: version 00 of W3C Trace
 * Context is 55 characters (later versions may append fields, hence the room), and W3C asks
 * that at least 512 characters of `tracestate` be propagated.
 */
export const MAX_TRACEPARENT_LENGTH = 128
export const MAX_TRACESTATE_LENGTH = 512

/**
 * §4.3 Copies the trace context of a request onto `message`, or ignores it: a value that is
 * not a string or is too long is dropped (the server starts a new trace), never refused, since
 * tracing must not be able to fail a call. Its format is checked by whoever reads it.
 */
function copyTrace(data: Record<string, unknown>, message: { traceparent?: string; tracestate?: string }): void {
  const traceparent = data.traceparent
  if (typeof traceparent !== 'string' || traceparent.length > MAX_TRACEPARENT_LENGTH) return
  message.traceparent = traceparent
  const tracestate = data.tracestate
  if (typeof tracestate === 'string' && tracestate.length <= MAX_TRACESTATE_LENGTH) message.tracestate = tracestate
}

function refusedPayload(id: RequestId, field: string, value: unknown, limits: ParseLimits): ParseResult<never> | undefined {
  const problem = findNonPlainData(value, limits.maxDepth, 1)
  return problem === undefined ? undefined : badRequest(id, `${field} refused: ${problem}`)
}

// Pure: a client bundle, which never parses client frames, leaves the set out.
const REQUEST_TYPES: ReadonlySet<unknown> = /* @__PURE__ */ new Set([MessageType.CALL, MessageType.SUB, MessageType.PUB, MessageType.STREAM])

/**
 * What a client frame that holds a value the codec cannot build (see `CodecError.envelope`)
 * earns: a request with a valid id is answered BAD_REQUEST for that id, as JSON's plain-data
 * walk answers the same nesting (§9); anything else is a violation (close 4400).
 */
export function parseUnrepresentable(envelope: { t: unknown; id: unknown }, reason: string): ParseResult<never> {
  if (!REQUEST_TYPES.has(envelope.t)) return violation(reason)
  if (!isRequestId(envelope.id)) return violation(`${String(envelope.t)} id is not a non-negative safe integer`)
  return badRequest(envelope.id, `message refused: ${reason}`)
}

/** Turns a decoded frame from a client into a message (server side). */
export function parseClientMessage(data: unknown, limits: ParseLimits): ParseResult<ClientMessage> {
  if (!isObject(data)) return violation('message is not an object')
  switch (data.t) {
    case MessageType.CALL: {
      const bad = checkAddressed(data, limits) ?? refusedPayload(data.id as RequestId, 'input', data.input, limits)
      if (bad !== undefined) return bad
      const message: CallMessage = { t: 'call', id: data.id as RequestId, path: data.path as string, input: data.input }
      if (data.key !== undefined) {
        if (typeof data.key !== 'string' || !KEY_PATTERN.test(data.key)) return badRequest(message.id, 'key must be 1 to 64 characters of [A-Za-z0-9_-]')
        message.key = data.key
      }
      if (data.traceparent !== undefined) copyTrace(data, message)
      return { kind: 'message', message }
    }
    case MessageType.SUB: {
      const bad = checkAddressed(data, limits) ?? refusedPayload(data.id as RequestId, 'params', data.params, limits)
      if (bad !== undefined) return bad
      const message: SubMessage = { t: 'sub', id: data.id as RequestId, path: data.path as string, params: data.params }
      if (data.resume !== undefined) {
        const resume = data.resume
        // One message per fault, so a client learns which field of its resume point is wrong.
        if (!isObject(resume)) return badRequest(message.id, 'resume must be an object { epoch, seq }')
        if (typeof resume.epoch !== 'string' || !EPOCH_PATTERN.test(resume.epoch)) {
          return badRequest(message.id, 'resume epoch must be 1 to 64 characters of [A-Za-z0-9_.-]')
        }
        if (!isRequestId(resume.seq)) return badRequest(message.id, 'resume seq must be a non-negative safe integer')
        message.resume = { epoch: resume.epoch, seq: resume.seq }
      }
      if (data.traceparent !== undefined) copyTrace(data, message)
      return { kind: 'message', message }
    }
    case MessageType.PUB: {
      const id = data.id as RequestId
      const bad = checkAddressed(data, limits) ?? refusedPayload(id, 'params', data.params, limits) ?? refusedPayload(id, 'data', data.data, limits)
      if (bad !== undefined) return bad
      const message: PubMessage = { t: 'pub', id, path: data.path as string, params: data.params, data: data.data }
      if (data.traceparent !== undefined) copyTrace(data, message)
      return { kind: 'message', message }
    }
    case MessageType.STREAM: {
      if (isRequestId(data.id) && !isCount(data.credit)) return violation('stream credit is not a positive safe integer')
      const bad = checkAddressed(data, limits) ?? refusedPayload(data.id as RequestId, 'input', data.input, limits)
      if (bad !== undefined) return bad
      const message: StreamMessage = { t: 'stream', id: data.id as RequestId, path: data.path as string, credit: data.credit as number }
      if (data.input !== undefined) message.input = data.input
      if (data.received !== undefined) {
        if (!isRequestId(data.received)) return badRequest(message.id, 'received must be a non-negative integer')
        message.received = data.received
      }
      if (data.traceparent !== undefined) copyTrace(data, message)
      return { kind: 'message', message }
    }
    case MessageType.CREDIT:
      if (!isRequestId(data.id)) return violation('credit id is not a non-negative safe integer')
      if (!isCount(data.n)) return violation('credit n is not a positive safe integer')
      return { kind: 'message', message: { t: 'credit', id: data.id, n: data.n } }
    case MessageType.CANCEL:
    case MessageType.UNSUB:
      if (!isRequestId(data.id)) return violation(`${data.t} id is not a non-negative safe integer`)
      return { kind: 'message', message: { t: data.t, id: data.id } }
    case MessageType.PING:
      return { kind: 'message', message: { t: 'ping' } }
    case MessageType.PONG:
      return { kind: 'message', message: { t: 'pong' } }
    case MessageType.RESULT:
    case MessageType.ERROR:
    case MessageType.EVENT:
    case MessageType.ITEM:
    case MessageType.LAG:
      // §3: a server message sent to the server is as wrong as an unknown type; the reason
      // says which, for the implementer reading it.
      return violation(`${data.t} is a server-to-client message`)
    default:
      return violation(typeof data.t === 'string' ? 'unknown message type' : 'message has no type')
  }
}

function parseWireError(value: unknown, maxDepth: number): WireError | undefined {
  if (!isObject(value) || !isErrorCode(value.code) || typeof value.message !== 'string') return undefined
  if (findNonPlainData(value, maxDepth, 1) !== undefined) return undefined
  const error: WireError = { code: value.code, message: value.message }
  if (value.data !== undefined) error.data = value.data
  if (Array.isArray(value.issues)) error.issues = value.issues as ValidationIssue[]
  return error
}

/**
 * True for a well-formed `sub` result output `{ ch, seq, epoch }` (§12): the client checks it
 * before it files the subscription under `ch`, since a malformed one would leave it deaf.
 */
export function isSubscribedOutput(value: unknown): value is SubscribedOutput {
  return (
    isObject(value) &&
    isCount(value.ch) &&
    isRequestId(value.seq) &&
    typeof value.epoch === 'string' &&
    EPOCH_PATTERN.test(value.epoch)
  )
}

/** What {@link parseServerMessage} returns for a frame that breaks the protocol (close 4400). */
export class ProtocolViolation {
  constructor(readonly reason: string) {}
}

const PING: PingMessage = Object.freeze({ t: 'ping' }) as PingMessage
const PONG: PongMessage = Object.freeze({ t: 'pong' }) as PongMessage

/**
 * Turns a decoded frame from a server into a message (client side), or a violation. Its
 * cases are string literals rather than {@link MessageType}'s, so a client bundle carries
 * no table of message types. Checked
 * in place: a valid result, event, item or lag is the decoded object itself, not a copy
 * (fields a message does not define stay on it, unread), since this runs for every event
 * on every client.
 *
 * Every field the client reads itself is checked (ids, channel numbers, seqs, lag counts and
 * epochs, an error's code, message and issues); payloads (`output`, event and item `data`)
 * are the application's and go on as the codec decoded them, without the plain-data walk
 * the server gives what clients send: a server can send any value of the wrong shape
 * anyway, and the walk was most of the client's cost per event. The one payload hazard, a
 * JSON `__proto__` key, is refused before this (`mayHoldProtoKey`, docs/protocol.md §9).
 */
export function parseServerMessage(data: unknown, limits: Pick<ParseLimits, 'maxDepth'>): ServerMessage | ProtocolViolation {
  if (!isObject(data)) return new ProtocolViolation('message is not an object')
  switch (data.t) {
    case 'result': {
      if (!isRequestId(data.id)) return new ProtocolViolation('result id is not a non-negative safe integer')
      return data as unknown as ResultMessage
    }
    case 'event': {
      if (!isCount(data.ch)) return new ProtocolViolation('event ch is not a positive safe integer')
      if (!isCount(data.seq)) return new ProtocolViolation('event seq is not a positive safe integer')
      return data as unknown as EventMessage
    }
    case 'item': {
      if (!isRequestId(data.id)) return new ProtocolViolation('item id is not a non-negative safe integer')
      return data as unknown as ItemMessage
    }
    case 'lag': {
      if (!isCount(data.ch)) return new ProtocolViolation('lag ch is not a positive safe integer')
      if (data.epoch !== undefined) {
        // A new epoch: the gap is unknown, so a count beside it would contradict it (§14).
        if (typeof data.epoch !== 'string' || !EPOCH_PATTERN.test(data.epoch)) return new ProtocolViolation('lag epoch must be 1 to 64 characters of [A-Za-z0-9_.-]')
        if (data.missed !== undefined) return new ProtocolViolation('lag has both missed and epoch')
        if (!isRequestId(data.seq)) return new ProtocolViolation('lag seq must be a non-negative safe integer')
        return data as unknown as EpochLagMessage
      }
      if (!isCount(data.seq) || !isCount(data.missed)) return new ProtocolViolation('lag seq and missed must be positive safe integers')
      return data as unknown as CountedLagMessage
    }
    case 'error': {
      if (!isRequestId(data.id)) return new ProtocolViolation('error id is not a non-negative safe integer')
      const error = parseWireError(data.error, limits.maxDepth)
      if (error === undefined) return new ProtocolViolation('error message without a valid error')
      return { t: 'error', id: data.id, error }
    }
    case 'ping':
      return PING
    case 'pong':
      return PONG
    default:
      return new ProtocolViolation(typeof data.t === 'string' ? 'unknown message type' : 'message has no type')
  }
}
