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
} as const

/** A request id: a non-negative safe integer chosen by the client, unique among its calls in flight. */
export type RequestId = number

/** §4 Client → server: run the procedure at `path` with `input`. */
export interface CallMessage {
  t: 'call'
  id: RequestId
  path: string
  input?: unknown
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

/** What a client sends. */
export type ClientMessage = CallMessage | CancelMessage | PingMessage | PongMessage
/** What a server sends. */
export type ServerMessage = ResultMessage | ErrorMessage | PingMessage | PongMessage

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

const PATH_PATTERN = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$/

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

/** Turns a decoded frame from a client into a message (server side). */
export function parseClientMessage(data: unknown, limits: ParseLimits): ParseResult<ClientMessage> {
  if (!isObject(data)) return violation('message is not an object')
  switch (data.t) {
    case MessageType.CALL: {
      const id = data.id
      if (!isRequestId(id)) return violation('call id is not a non-negative safe integer')
      const path = data.path
      if (typeof path !== 'string') return badRequest(id, 'path must be a string')
      if (path.length > limits.maxPathLength) {
        return badRequest(id, `path longer than ${limits.maxPathLength} characters`)
      }
      if (!PATH_PATTERN.test(path)) return badRequest(id, 'path is not a dotted identifier')
      const problem = findNonPlainData(data.input, limits.maxDepth - 1)
      if (problem !== undefined) return badRequest(id, `input refused: ${problem}`)
      return { kind: 'message', message: { t: 'call', id, path, input: data.input } }
    }
    case MessageType.CANCEL:
      if (!isRequestId(data.id)) return violation('cancel id is not a non-negative safe integer')
      return { kind: 'message', message: { t: 'cancel', id: data.id } }
    case MessageType.PING:
      return { kind: 'message', message: { t: 'ping' } }
    case MessageType.PONG:
      return { kind: 'message', message: { t: 'pong' } }
    default:
      return violation(typeof data.t === 'string' ? 'unknown message type' : 'message has no type')
  }
}

function parseWireError(value: unknown, maxDepth: number): WireError | undefined {
  if (!isObject(value) || !isErrorCode(value.code) || typeof value.message !== 'string') return undefined
  if (findNonPlainData(value, maxDepth) !== undefined) return undefined
  const error: WireError = { code: value.code, message: value.message }
  if (value.data !== undefined) error.data = value.data
  if (Array.isArray(value.issues)) error.issues = value.issues as ValidationIssue[]
  return error
}

/** Turns a decoded frame from a server into a message (client side). */
export function parseServerMessage(data: unknown, limits: Pick<ParseLimits, 'maxDepth'>): ParseResult<ServerMessage> {
  if (!isObject(data)) return violation('message is not an object')
  switch (data.t) {
    case MessageType.RESULT: {
      if (!isRequestId(data.id)) return violation('result id is not a non-negative safe integer')
      const problem = findNonPlainData(data.output, limits.maxDepth - 1)
      if (problem !== undefined) return violation(`output refused: ${problem}`)
      return { kind: 'message', message: { t: 'result', id: data.id, output: data.output } }
    }
    case MessageType.ERROR: {
      if (!isRequestId(data.id)) return violation('error id is not a non-negative safe integer')
      const error = parseWireError(data.error, limits.maxDepth - 1)
      if (error === undefined) return violation('error message without a valid error')
      return { kind: 'message', message: { t: 'error', id: data.id, error } }
    }
    case MessageType.PING:
      return { kind: 'message', message: { t: 'ping' } }
    case MessageType.PONG:
      return { kind: 'message', message: { t: 'pong' } }
    default:
      return violation(typeof data.t === 'string' ? 'unknown message type' : 'message has no type')
  }
}
