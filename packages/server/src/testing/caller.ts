/**
 * createCaller: a server's procedures and streams called in-process, without a connection
 * (tRPC's `createCaller`). Each call takes the path a socket's call takes from validation on:
 * dispatch.ts (input schema, middleware, handler, `validateOutput`) and streams.ts for
 * streams, with the context the test supplies. Inputs, outputs and items make the chosen
 * encoding's round trip, and errors arrive as the `PatchbayError` a client would get.
 */
import { nanoid } from 'nanoid'
import {
  ErrorCode,
  PatchbayError,
  findNonPlainData,
  flatRouter,
  sendableError,
  type AnyProcedure,
  type AnyStream,
  type AnyTopic,
  type Codec,
  type Encoding,
  type InferProcedureInput,
  type InferProcedureOutput,
  type InferStreamInput,
  type InferStreamItem,
  type RouterDef,
  type WireError,
} from '@patchbay/core'
import { codecs } from '../codecs.js'
import { CallSignal, dispatch } from '../dispatch.js'
import type { SessionConfig } from '../connection.js'
import type { Engine } from '../engine.js'
import { hostOf } from '../session-host.js'
import type { ConnectionInfo, PatchbayServer } from '../types.js'
import { openStream } from './caller-stream.js'

/** Options of one call of a {@link Caller}. */
export interface CallerCallOptions {
  /** Aborting it fails the call with CANCELLED and aborts the handler's `signal`, as a client's cancel does. */
  signal?: AbortSignal
}

/** Options of one stream of a {@link Caller}. */
export interface CallerStreamOptions extends CallerCallOptions {
  /**
   * Items the handler may produce ahead of the loop (its credit, docs/protocol.md §15).
   * @default 32 (the client's default)
   */
  credit?: number
}

/** A procedure on a caller: its input type in, its output type out. */
export type CallerProcedure<P extends AnyProcedure> = undefined extends InferProcedureInput<P>
  ? (input?: InferProcedureInput<P>, options?: CallerCallOptions) => Promise<InferProcedureOutput<P>>
  : (input: InferProcedureInput<P>, options?: CallerCallOptions) => Promise<InferProcedureOutput<P>>

/** A stream on a caller: its items as an async iterator; leaving the loop ends the handler. */
export type CallerStream<S extends AnyStream> = undefined extends InferStreamInput<S>
  ? (input?: InferStreamInput<S>, options?: CallerStreamOptions) => AsyncIterableIterator<InferStreamItem<S>>
  : (input: InferStreamInput<S>, options?: CallerStreamOptions) => AsyncIterableIterator<InferStreamItem<S>>

/** The procedures and streams of router `R`, in its shape (topics are left out: use the in-memory pair). */
export type Caller<R extends RouterDef> = {
  readonly [K in keyof R as R[K] extends AnyTopic ? never : K]: R[K] extends AnyProcedure
    ? CallerProcedure<R[K]>
    : R[K] extends AnyStream
      ? CallerStream<R[K]>
      : R[K] extends RouterDef
        ? Caller<R[K]>
        : never
}

/** Options of {@link createCaller}. */
export type CallerOptions<TCtx> = (undefined extends TCtx ? { ctx?: TCtx } : { ctx: TCtx }) & {
  /**
   * The encoding whose round trip inputs, outputs and items make (what reaches the handler and
   * the test is what would cross the wire), and `connection.encoding` in handlers.
   * @default 'json'
   */
  encoding?: Encoding
}

/** What one caller's calls share. */
export interface CallerScope {
  readonly config: SessionConfig
  readonly codec: Codec
  readonly ctx: unknown
  readonly connection: ConnectionInfo
}

/**
 * A typed caller of `server`'s procedures and streams, with context `ctx` (the context hook's
 * result, supplied by the test). `server` needs no `listen()`: createServer opens no port.
 */
export function createCaller<E extends Engine, TCtx, R extends RouterDef>(server: PatchbayServer<E, TCtx, R>, options: CallerOptions<TCtx>): Caller<R> {
  const host = hostOf(server)
  const codec = codecs[options.encoding ?? 'json']
  if (codec === undefined) throw new TypeError(`unknown encoding "${String(options.encoding)}"`)
  const scope: CallerScope = {
    config: host.config,
    codec,
    ctx: (options as { ctx?: unknown }).ctx,
    connection: { id: `caller-${nanoid()}`, encoding: codec.encoding },
  }
  const flat = flatRouter(host.options.api)
  const root: Record<string, unknown> = {}
  for (const path of flat.procedures.keys()) place(root, path, (input: unknown, callOptions?: CallerCallOptions) => call(scope, path, input, callOptions))
  for (const path of flat.streams.keys()) place(root, path, (input: unknown, streamOptions?: CallerStreamOptions) => openStream(scope, path, input, streamOptions))
  return root as Caller<R>
}

/** Sets `value` at dotted `path` of `tree`, making the nodes on the way. */
function place(tree: Record<string, unknown>, path: string, value: unknown): void {
  const names = path.split('.')
  const last = names.pop() as string
  let node = tree
  for (const name of names) node = (node[name] ??= {}) as Record<string, unknown>
  node[last] = value
}

/** `value` as it arrives at the other end of the wire in `codec` (JSON drops undefined fields, say). */
export function roundTrip(codec: Codec, value: unknown): unknown {
  if (value === undefined) return undefined
  return (codec.decode(codec.encode({ v: value })) as { v?: unknown }).v
}

/** The input as the client would send it: BAD_REQUEST for what it refuses to (docs/protocol.md §9). */
export function sendInput(scope: CallerScope, input: unknown): unknown {
  const problem = findNonPlainData(input, scope.config.limits.maxDepth, 1)
  if (problem !== undefined) throw new PatchbayError(ErrorCode.BAD_REQUEST, `The input is not plain data: ${problem}`)
  return roundTrip(scope.codec, input)
}

/** The error as the client receives it. */
export function received(scope: CallerScope, error: WireError): PatchbayError {
  return PatchbayError.fromWire(roundTrip(scope.codec, sendableError(error, scope.config.limits.maxDepth)) as WireError)
}

export const cancelled = (reason: unknown): PatchbayError => new PatchbayError(ErrorCode.CANCELLED, 'The call was aborted', { cause: reason })

async function call(scope: CallerScope, path: string, input: unknown, options: CallerCallOptions = {}): Promise<unknown> {
  const { signal } = options
  if (signal?.aborted === true) throw cancelled(signal.reason)
  const wireInput = sendInput(scope, input)
  const callSignal = new CallSignal()
  const outcome = dispatch(scope.config, path, wireInput, scope.ctx, scope.connection, callSignal)
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_resolve, reject) => {
    if (signal === undefined) return
    onAbort = () => {
      // As the session does on a cancel (§5): the handler's signal aborts, nothing is answered.
      callSignal.abort(new PatchbayError(ErrorCode.CANCELLED, 'The client cancelled the call'))
      reject(cancelled(signal.reason))
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    const settled = await Promise.race([outcome, aborted])
    if (!settled.ok) throw received(scope, settled.error)
    // §6, §9: a result that is not plain data fails the call, as the session's reply does.
    const problem = findNonPlainData(settled.output, scope.config.limits.maxDepth, 1)
    if (problem !== undefined) {
      scope.config.onError?.(new TypeError(`Result is not plain data: ${problem}`), { path, connectionId: scope.connection.id })
      throw new PatchbayError(ErrorCode.INTERNAL, 'Result could not be encoded')
    }
    return roundTrip(scope.codec, settled.output)
  } finally {
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
  }
}
