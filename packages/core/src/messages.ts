/**
 * The messages of patchbay.v1, as docs/protocol.md §3–§15 defines them, and the functions
 * that turn a decoded frame into one and one into what is sent. On the wire every message is
 * an array whose element 0 is its type's tag (§3); in memory it is an object whose `t` names
 * its type, which the code that builds and handles messages reads. Parsing is hand-written
 * rather than schema-driven because it runs on every frame.
 */
import type { ValidationIssue, WireError } from './errors.js'
import { isErrorCode } from './errors.js'
import type { Envelope } from './msgpack-envelope.js'
import { findNonPlainData } from './plain-data.js'

/** Message types (the `t` field of a message in memory; on the wire, {@link Tag}). */
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

/** §3 The tag of each message type: element 0 of its array on the wire. */
export const Tag = {
  CALL: 1,
  RESULT: 2,
  ERROR: 3,
  CANCEL: 4,
  PING: 5,
  PONG: 6,
  SUB: 7,
  UNSUB: 8,
  PUB: 9,
  EVENT: 10,
  LAG: 11,
  STREAM: 12,
  CREDIT: 13,
  ITEM: 14,
} as const

/** Each tag's message type, for the reasons a parser gives. Written out rather than derived from {@link Tag}: a client bundle drops an unused literal, not a computed table (about 250 B min+gzip). */
const TAG_NAMES: Readonly<Record<number, string>> = {
  1: 'call',
  2: 'result',
  3: 'error',
  4: 'cancel',
  5: 'ping',
  6: 'pong',
  7: 'sub',
  8: 'unsub',
  9: 'pub',
  10: 'event',
  11: 'lag',
  12: 'stream',
  13: 'credit',
  14: 'item',
}

const BAD_META = 'meta must be a map or null'

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
function checkAddressed(data: unknown[], limits: ParseLimits): ParseResult<never> | undefined {
  const id = data[1]
  if (!isRequestId(id)) return violation(`${TAG_NAMES[data[0] as number] as string} id is not a non-negative safe integer`)
  const path = data[2]
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
const REQUEST_TAGS: ReadonlySet<unknown> = /* @__PURE__ */ new Set([Tag.CALL, Tag.SUB, Tag.PUB, Tag.STREAM])

const SERVER_TAGS: ReadonlySet<unknown> = /* @__PURE__ */ new Set([Tag.RESULT, Tag.ERROR, Tag.EVENT, Tag.LAG, Tag.ITEM])

/**
 * What a client frame that holds a value the codec cannot build (see `CodecError.envelope`)
 * earns: a request with a valid id is answered BAD_REQUEST for that id, as JSON's plain-data
 * walk answers the same nesting (§9); anything else is a violation (close 4400), with §3's
 * reason where its envelope alone breaks §3 (as {@link parseClientMessage} gives it for a
 * frame the codec can build), else the codec's.
 */
export function parseUnrepresentable(envelope: Envelope, reason: string): ParseResult<never> {
  const tag = envelope.tag
  if (!envelope.array) return violation('message is not an array')
  if (!REQUEST_TAGS.has(tag)) {
    if (!Number.isInteger(tag)) return violation('message has no type')
    if (TAG_NAMES[tag as number] === undefined) return violation('unknown message type')
    if (SERVER_TAGS.has(tag)) return violation(`${TAG_NAMES[tag as number] as string} is a server-to-client message`)
    return violation(reason)
  }
  if (!isRequestId(envelope.id)) return violation(`${TAG_NAMES[envelope.tag as number] as string} id is not a non-negative safe integer`)
  return badRequest(envelope.id, `message refused: ${reason}`)
}

/** Reads a request's meta element (§3.2): null or absent is none; anything else but a map is refused. */
function metaOf(data: unknown[]): Record<string, unknown> | undefined | false {
  const meta = data[3]
  if (meta === undefined || meta === null) return undefined
  return isObject(meta) ? meta : false
}

/** Turns a decoded frame from a client into a message (server side): §3's arrays into §4–§15's messages. */
export function parseClientMessage(data: unknown, limits: ParseLimits): ParseResult<ClientMessage> {
  if (!Array.isArray(data)) return violation('message is not an array')
  switch (data[0]) {
    case Tag.CALL: {
      const id = data[1] as RequestId
      const input = data[4]
      const bad = checkAddressed(data, limits) ?? refusedPayload(id, 'input', input, limits)
      if (bad !== undefined) return bad
      const message: CallMessage = { t: 'call', id, path: data[2] as string, input }
      const meta = metaOf(data)
      if (meta === false) return badRequest(id, BAD_META)
      if (meta !== undefined) {
        if (meta.key !== undefined) {
          if (typeof meta.key !== 'string' || !KEY_PATTERN.test(meta.key)) return badRequest(id, 'key must be 1 to 64 characters of [A-Za-z0-9_-]')
          message.key = meta.key
        }
        if (meta.traceparent !== undefined) copyTrace(meta, message)
      }
      return { kind: 'message', message }
    }
    case Tag.SUB: {
      const id = data[1] as RequestId
      const params = data[4]
      const bad = checkAddressed(data, limits) ?? refusedPayload(id, 'params', params, limits)
      if (bad !== undefined) return bad
      const message: SubMessage = { t: 'sub', id, path: data[2] as string, params }
      const meta = metaOf(data)
      if (meta === false) return badRequest(id, BAD_META)
      if (meta !== undefined) {
        const resume = meta.resume
        if (resume !== undefined) {
          // One message per fault, so a client learns which field of its resume point is wrong.
          if (!isObject(resume)) return badRequest(id, 'resume must be an object { epoch, seq }')
          if (typeof resume.epoch !== 'string' || !EPOCH_PATTERN.test(resume.epoch)) {
            return badRequest(id, 'resume epoch must be 1 to 64 characters of [A-Za-z0-9_.-]')
          }
          if (!isRequestId(resume.seq)) return badRequest(id, 'resume seq must be a non-negative safe integer')
          message.resume = { epoch: resume.epoch, seq: resume.seq }
        }
        if (meta.traceparent !== undefined) copyTrace(meta, message)
      }
      return { kind: 'message', message }
    }
    case Tag.PUB: {
      const id = data[1] as RequestId
      const payload = data[4]
      const params = data[5]
      const bad = checkAddressed(data, limits) ?? refusedPayload(id, 'params', params, limits) ?? refusedPayload(id, 'data', payload, limits)
      if (bad !== undefined) return bad
      const message: PubMessage = { t: 'pub', id, path: data[2] as string, params, data: payload }
      const meta = metaOf(data)
      if (meta === false) return badRequest(id, BAD_META)
      if (meta !== undefined && meta.traceparent !== undefined) copyTrace(meta, message)
      return { kind: 'message', message }
    }
    case Tag.STREAM: {
      const id = data[1] as RequestId
      const credit = data[4]
      const input = data[5]
      if (isRequestId(id) && !isCount(credit)) return violation('stream credit is not a positive safe integer')
      const bad = checkAddressed(data, limits) ?? refusedPayload(id, 'input', input, limits)
      if (bad !== undefined) return bad
      const message: StreamMessage = { t: 'stream', id, path: data[2] as string, credit: credit as number }
      if (input !== undefined) message.input = input
      const meta = metaOf(data)
      if (meta === false) return badRequest(id, BAD_META)
      if (meta !== undefined) {
        if (meta.received !== undefined) {
          if (!isRequestId(meta.received)) return badRequest(id, 'received must be a non-negative integer')
          message.received = meta.received
        }
        if (meta.traceparent !== undefined) copyTrace(meta, message)
      }
      return { kind: 'message', message }
    }
    case Tag.CREDIT:
      if (!isRequestId(data[1])) return violation('credit id is not a non-negative safe integer')
      if (!isCount(data[2])) return violation('credit n is not a positive safe integer')
      return { kind: 'message', message: { t: 'credit', id: data[1], n: data[2] } }
    case Tag.CANCEL:
      if (!isRequestId(data[1])) return violation('cancel id is not a non-negative safe integer')
      return { kind: 'message', message: { t: 'cancel', id: data[1] } }
    case Tag.UNSUB:
      if (!isRequestId(data[1])) return violation('unsub id is not a non-negative safe integer')
      return { kind: 'message', message: { t: 'unsub', id: data[1] } }
    case Tag.PING:
      return { kind: 'message', message: { t: 'ping' } }
    case Tag.PONG:
      return { kind: 'message', message: { t: 'pong' } }
    case Tag.RESULT:
    case Tag.ERROR:
    case Tag.EVENT:
    case Tag.ITEM:
    case Tag.LAG:
      // §3: a server message sent to the server is as wrong as an unknown type; the reason
      // says which, for the implementer reading it.
      return violation(`${TAG_NAMES[data[0]] as string} is a server-to-client message`)
    default:
      return violation(Number.isInteger(data[0]) ? 'unknown message type' : 'message has no type')
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
 * Turns a decoded frame from a server into a message (client side), or a violation: §3's
 * arrays into the messages of §4–§15. Its cases are number literals rather than
 * {@link Tag}'s, so a client bundle carries no table of tags.
 *
 * Every field the client reads itself is checked (ids, channel numbers, seqs, lag counts and
 * epochs, an error's code, message and issues); payloads (`output`, event and item `data`)
 * are the application's and go on as the codec decoded them, without the plain-data walk
 * the server gives what clients send: a server can send any value of the wrong shape
 * anyway, and the walk was most of the client's cost per event. The one payload hazard, a
 * JSON `__proto__` key, is refused before this (`mayHoldProtoKey`, docs/protocol.md §9).
 * Elements past the ones a type defines are ignored (§3.1).
 */
export function parseServerMessage(data: unknown, limits: Pick<ParseLimits, 'maxDepth'>): ServerMessage | ProtocolViolation {
  if (!Array.isArray(data)) return new ProtocolViolation('message is not an array')
  switch (data[0]) {
    case 2: {
      const id: unknown = data[1]
      if (!isRequestId(id)) return new ProtocolViolation('result id is not a non-negative safe integer')
      return { t: 'result', id, output: data[2] }
    }
    case 10: {
      const ch: unknown = data[1]
      const seq: unknown = data[2]
      if (!isCount(ch)) return new ProtocolViolation('event ch is not a positive safe integer')
      if (!isCount(seq)) return new ProtocolViolation('event seq is not a positive safe integer')
      return { t: 'event', ch, seq, data: data[3] }
    }
    case 14: {
      const id: unknown = data[1]
      if (!isRequestId(id)) return new ProtocolViolation('item id is not a non-negative safe integer')
      return { t: 'item', id, data: data[2] }
    }
    case 11: {
      const ch: unknown = data[1]
      const seq: unknown = data[2]
      const missed: unknown = data[3]
      const epoch: unknown = data[4]
      if (!isCount(ch)) return new ProtocolViolation('lag ch is not a positive safe integer')
      if (epoch !== undefined && epoch !== null) {
        // A new epoch: the gap is unknown, so a count beside it would contradict it (§14).
        if (typeof epoch !== 'string' || !EPOCH_PATTERN.test(epoch)) return new ProtocolViolation('lag epoch must be 1 to 64 characters of [A-Za-z0-9_.-]')
        if (missed !== undefined && missed !== null) return new ProtocolViolation('lag has both missed and epoch')
        if (!isRequestId(seq)) return new ProtocolViolation('lag seq must be a non-negative safe integer')
        return { t: 'lag', ch, seq, epoch }
      }
      if (!isCount(seq) || !isCount(missed)) return new ProtocolViolation('lag seq and missed must be positive safe integers')
      return { t: 'lag', ch, seq, missed }
    }
    case 3: {
      const id: unknown = data[1]
      if (!isRequestId(id)) return new ProtocolViolation('error id is not a non-negative safe integer')
      const error = parseWireError(data[2], limits.maxDepth)
      if (error === undefined) return new ProtocolViolation('error message without a valid error')
      return { t: 'error', id, error }
    }
    case 5:
      return PING
    case 6:
      return PONG
    default:
      return new ProtocolViolation(Number.isInteger(data[0]) ? 'unknown message type' : 'message has no type')
  }
}

/** The array a server message is sent as (§3), ending at its last present element. */
export function serverWire(message: ServerMessage): unknown[] {
  switch (message.t) {
    case 'result':
      return message.output === undefined ? [2, message.id] : [2, message.id, message.output]
    case 'event':
      return message.data === undefined ? [10, message.ch, message.seq] : [10, message.ch, message.seq, message.data]
    case 'item':
      return message.data === undefined ? [14, message.id] : [14, message.id, message.data]
    case 'error':
      return [3, message.id, message.error]
    case 'lag':
      return 'epoch' in message ? [11, message.ch, message.seq, null, message.epoch] : [11, message.ch, message.seq, message.missed]
    case 'ping':
      return [5]
    case 'pong':
      return [6]
  }
}
