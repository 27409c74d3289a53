/**
 * Runs one call: find the procedure, validate the input, run the handler, shape the outcome.
 * Runtime-free. A synchronous schema and handler answer synchronously: no promise, no
 * microtask, no map entry, which is what most small procedures are.
 */
import {
  ErrorCode,
  PatchbayError,
  validate,
  type AnyProcedure,
  type ValidationResult,
  type WireError,
} from '@patchbay/core'
import { runChain, type AnyMiddleware } from './middleware.js'
import type { ConnectionInfo, ErrorInfo } from './types.js'

/** A procedure with its handler, as the server resolved them at creation. */
export interface Route {
  readonly procedure: AnyProcedure
  readonly handler: (options: { input: unknown; ctx: unknown; signal: AbortSignal; connection: ConnectionInfo }) => unknown
  /** The middleware around the handler, outer first; undefined (never empty) when none. */
  readonly middleware: readonly AnyMiddleware[] | undefined
}

/** What dispatch needs from the server. */
export interface DispatchConfig {
  readonly routes: ReadonlyMap<string, Route>
  readonly validateOutput: boolean
  readonly exposeErrors: boolean
  readonly onError: ((error: unknown, info: ErrorInfo) => void) | undefined
}

/** The outcome of a call: `ok` with the output, or an error to send. */
export type Outcome = { ok: true; output: unknown } | { ok: false; error: WireError }

/**
 * One call's handler options and its abort side, in one object: what the handler receives
 * (`input`, `ctx`, `connection`, `signal`) and what the session aborts on cancel or close.
 * A class, so `signal` is one getter on the prototype, and the AbortController behind it is
 * made only when the handler reads its signal or the call is aborted: a call that never
 * looks pays for one small object.
 */
export class CallSignal {
  input: unknown = undefined
  ctx: unknown = undefined
  connection: ConnectionInfo | undefined = undefined
  /** Streams only: where a restarted stream resumes (§15). */
  resumed: { received: number } | undefined = undefined
  private controller: AbortController | undefined = undefined

  get signal(): AbortSignal {
    this.controller ??= new AbortController()
    return this.controller.signal
  }

  abort(reason: unknown): void {
    this.controller ??= new AbortController()
    this.controller.abort(reason)
  }

  get aborted(): boolean {
    return this.controller?.signal.aborted ?? false
  }

  /** Fills in what the handler sees and returns this, as its options. */
  args(input: unknown, ctx: unknown, connection: ConnectionInfo): this {
    this.input = input
    this.ctx = ctx
    this.connection = connection
    return this
  }
}

const INTERNAL_MESSAGE = 'Internal server error'

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}

/** Turns anything a handler threw into the error the client sees. */
export function toWireError(config: Pick<DispatchConfig, 'exposeErrors' | 'onError'>, error: unknown, info: ErrorInfo): WireError {
  if (error instanceof PatchbayError) return error.toWire()
  config.onError?.(error, info)
  const message = config.exposeErrors && error instanceof Error ? error.message : INTERNAL_MESSAGE
  return { code: ErrorCode.INTERNAL, message }
}

function fail(code: string, message: string): Outcome {
  return { ok: false, error: { code, message } }
}

/**
 * Runs the call and returns its outcome, synchronously when it can.
 * `signal` is the call's abort side; `ctx` and `connection` are the session's.
 */
export function dispatch(
  config: DispatchConfig,
  path: string,
  input: unknown,
  ctx: unknown,
  connection: ConnectionInfo,
  callSignal: CallSignal,
): Outcome | Promise<Outcome> {
  const route = config.routes.get(path)
  if (route === undefined) return fail(ErrorCode.NOT_FOUND, `No procedure at "${path}"`)
  const schema = route.procedure.input
  if (schema === undefined) {
    if (input !== undefined && input !== null) return fail(ErrorCode.BAD_REQUEST, 'This procedure takes no input')
    return run(config, route, undefined, ctx, connection, callSignal, path)
  }
  let checked: ValidationResult<unknown> | Promise<ValidationResult<unknown>>
  try {
    checked = validate(schema, input)
  } catch (error) {
    return { ok: false, error: toWireError(config, error, infoOf(path, connection)) }
  }
  if (checked instanceof Promise) {
    return checked.then(
      (result) => afterValidation(config, route, result, ctx, connection, callSignal, path),
      (error: unknown) => ({ ok: false, error: toWireError(config, error, infoOf(path, connection)) }) as Outcome,
    )
  }
  return afterValidation(config, route, checked, ctx, connection, callSignal, path)
}

/** What onError is told about a failing call; made only when one fails. */
function infoOf(path: string, connection: ConnectionInfo): ErrorInfo {
  return { path, connectionId: connection.id }
}

function afterValidation(
  config: DispatchConfig,
  route: Route,
  checked: ValidationResult<unknown>,
  ctx: unknown,
  connection: ConnectionInfo,
  callSignal: CallSignal,
  path: string,
): Outcome | Promise<Outcome> {
  if (!checked.ok) {
    return { ok: false, error: { code: ErrorCode.BAD_REQUEST, message: 'Input failed validation', issues: checked.issues } }
  }
  return run(config, route, checked.value, ctx, connection, callSignal, path)
}

function run(
  config: DispatchConfig,
  route: Route,
  input: unknown,
  ctx: unknown,
  connection: ConnectionInfo,
  callSignal: CallSignal,
  path: string,
): Outcome | Promise<Outcome> {
  // The one check a call pays for middleware: without any, the path below is as it was.
  if (route.middleware !== undefined) return runThrough(config, route, route.middleware, input, ctx, connection, callSignal, path)
  let returned: unknown
  try {
    returned = route.handler(callSignal.args(input, ctx, connection) as Parameters<Route['handler']>[0])
  } catch (error) {
    return { ok: false, error: toWireError(config, error, infoOf(path, connection)) }
  }
  if (isPromiseLike(returned)) {
    return Promise.resolve(returned).then(
      (output) => finish(config, route, output, path, connection),
      (error: unknown) => ({ ok: false, error: toWireError(config, error, infoOf(path, connection)) }) as Outcome,
    )
  }
  return finish(config, route, returned, path, connection)
}

/** Runs the handler inside its middleware (docs/guide/middleware.md): always asynchronous. */
function runThrough(
  config: DispatchConfig,
  route: Route,
  middleware: readonly AnyMiddleware[],
  input: unknown,
  ctx: unknown,
  connection: ConnectionInfo,
  callSignal: CallSignal,
  path: string,
): Promise<Outcome> {
  const request = { kind: 'call', path, input, data: undefined, connection, abort: callSignal } as const
  return runChain(middleware, request, ctx, (innerCtx) => route.handler(callSignal.args(input, innerCtx, connection) as Parameters<Route['handler']>[0])).then(
    (output) => finish(config, route, output, path, connection),
    (error: unknown) => ({ ok: false, error: toWireError(config, error, infoOf(path, connection)) }) as Outcome,
  )
}

function finish(config: DispatchConfig, route: Route, output: unknown, path: string, connection: ConnectionInfo): Outcome | Promise<Outcome> {
  if (!config.validateOutput) return { ok: true, output }
  const checked = validate(route.procedure.output, output)
  const settle = (result: ValidationResult<unknown>): Outcome => {
    if (result.ok) return { ok: true, output: result.value }
    const detail = result.issues.map((issue) => issue.message).join('; ')
    return { ok: false, error: toWireError(config, new Error(`Output of "${path}" failed validation: ${detail}`), infoOf(path, connection)) }
  }
  return checked instanceof Promise ? checked.then(settle) : settle(checked)
}
