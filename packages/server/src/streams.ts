/**
 * Stream procedures on the server, runtime-free (docs/protocol.md §15): validate the input,
 * start the handler's async generator, and pull it only while the client has granted credit
 * and the connection is not congested, so a slow consumer slows the producer.
 */
import { ErrorCode, findNonPlainData, validate, type AnyStream, type Limits, type RequestId, type ValidationResult, type WireError } from '@patchbay/core'
import { CallSignal, toWireError, type DispatchConfig } from './dispatch.js'
import { runChain, type AnyMiddleware } from './middleware.js'
import type { ConnectionInfo, ErrorInfo } from './types.js'

/** A stream with its handler, as the server resolved them at creation. */
export interface StreamRoute {
  readonly stream: AnyStream
  readonly handler: (options: { input: unknown; ctx: unknown; signal: AbortSignal; connection: ConnectionInfo; resumed: { received: number } | undefined }) => unknown
  /** The middleware around the stream's start, outer first; undefined (never empty) when none. */
  readonly middleware: readonly AnyMiddleware[] | undefined
}

/** What streams need from the server. */
export interface StreamsConfig extends Pick<DispatchConfig, 'exposeErrors' | 'onError'> {
  readonly streams: ReadonlyMap<string, StreamRoute>
  readonly limits: Limits
}

/** What a running stream needs from its session. */
export interface StreamHost {
  /** Sends item `data` of stream `id`; false if the connection is gone (or just closed). */
  sendItem(id: RequestId, data: unknown): boolean
  /** Ends stream `id` on the wire: a result when `error` is undefined, else that error. */
  end(id: RequestId, error: WireError | undefined): void
  /** Runs `resume` once the connection is below its high-water mark. */
  whenUncongested(resume: () => void): void
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
}

/** One running stream: its generator, its credit, and its abort side. */
export class StreamRun {
  readonly signal = new CallSignal()
  private iterator: AsyncIterator<unknown> | undefined
  private pulling = false
  private finished = false

  constructor(
    private readonly config: StreamsConfig,
    private readonly route: StreamRoute,
    readonly id: RequestId,
    private credit: number,
    private readonly host: StreamHost,
    private readonly info: ErrorInfo,
    /** Told once when the stream is over, whichever way it ended. */
    private readonly onFinish: () => void,
  ) {}

  /** Validates `input` and starts the handler; the first pull follows. */
  start(input: unknown, ctx: unknown, connection: ConnectionInfo, received?: number): void {
    if (received !== undefined) this.signal.resumed = { received }
    const schema = this.route.stream.input
    if (schema === undefined) {
      if (input !== undefined && input !== null) return this.fail({ code: ErrorCode.BAD_REQUEST, message: 'This stream takes no input' })
      return this.run(undefined, ctx, connection)
    }
    let checked: ValidationResult<unknown> | Promise<ValidationResult<unknown>>
    try {
      checked = validate(schema, input)
    } catch (error) {
      return this.fail(toWireError(this.config, error, this.info))
    }
    const next = (result: ValidationResult<unknown>): void => {
      if (this.finished) return
      if (!result.ok) return this.fail({ code: ErrorCode.BAD_REQUEST, message: 'Input failed validation', issues: result.issues })
      this.run(result.value, ctx, connection)
    }
    if (checked instanceof Promise) checked.then(next, (error: unknown) => this.fail(toWireError(this.config, error, this.info)))
    else next(checked)
  }

  /** The client takes `n` more items. */
  grant(n: number): void {
    if (this.finished) return
    this.credit = Math.min(Number.MAX_SAFE_INTEGER, this.credit + n)
    this.pump()
  }

  /** The client cancelled, or the connection closed: stop the generator (its `finally` runs). */
  cancel(reason: unknown): void {
    if (this.finished) return
    this.finished = true
    this.signal.abort(reason)
    this.stop()
    this.onFinish()
  }

  private run(input: unknown, ctx: unknown, connection: ConnectionInfo): void {
    if (this.route.middleware !== undefined) return this.runThrough(this.route.middleware, input, ctx, connection)
    let iterable: unknown
    try {
      iterable = this.route.handler(this.signal.args(input, ctx, connection) as Parameters<StreamRoute['handler']>[0])
    } catch (error) {
      return this.fail(toWireError(this.config, error, this.info))
    }
    if (!isAsyncIterable(iterable)) {
      return this.fail(toWireError(this.config, new TypeError(`The handler of stream "${this.info.path}" did not return an async iterable`), this.info))
    }
    this.iterator = iterable[Symbol.asyncIterator]()
    this.pump()
  }

  /**
   * Starts the handler inside its middleware: the chain wraps the start (the handler's call,
   * up to its iterable), not the items, which flow by credit once it resolved.
   */
  private runThrough(middleware: readonly AnyMiddleware[], input: unknown, ctx: unknown, connection: ConnectionInfo): void {
    const request = { kind: 'stream', path: this.info.path, input, data: undefined, connection, abort: this.signal } as const
    runChain(middleware, request, ctx, (innerCtx) => {
      const iterable = this.route.handler(this.signal.args(input, innerCtx, connection) as Parameters<StreamRoute['handler']>[0])
      if (!isAsyncIterable(iterable)) throw new TypeError(`The handler of stream "${this.info.path}" did not return an async iterable`)
      return iterable
    }).then(
      (iterable) => {
        const iterator = (iterable as AsyncIterable<unknown>)[Symbol.asyncIterator]()
        this.iterator = iterator
        // Cancelled while the middleware ran: the generator has not started; let it go.
        if (this.finished) this.stop()
        else this.pump()
      },
      (error: unknown) => this.fail(toWireError(this.config, error, this.info)),
    )
  }

  /** Pulls while there is credit and room; one pull at a time. */
  private pump(): void {
    if (this.pulling || this.finished || this.iterator === undefined || this.credit <= 0) return
    this.pulling = true
    this.host.whenUncongested(() => {
      if (this.finished) return
      const iterator = this.iterator as AsyncIterator<unknown>
      let pulled: Promise<IteratorResult<unknown>>
      try {
        pulled = Promise.resolve(iterator.next())
      } catch (error) {
        this.pulling = false
        return this.fail(toWireError(this.config, error, this.info))
      }
      pulled.then(
        (result) => this.pulled(result),
        (error: unknown) => {
          this.pulling = false
          if (!this.finished) this.fail(toWireError(this.config, error, this.info), false)
        },
      )
    })
  }

  private pulled(result: IteratorResult<unknown>): void {
    if (this.finished) {
      this.pulling = false
      return
    }
    if (result.done === true) {
      this.pulling = false
      this.finished = true
      this.host.end(this.id, undefined)
      this.onFinish()
      return
    }
    const checked = validate(this.route.stream.output, result.value)
    const next = (item: ValidationResult<unknown>): void => {
      this.pulling = false
      if (this.finished) return
      if (!item.ok) {
        const detail = item.issues.map((issue) => issue.message).join('; ')
        return this.fail(toWireError(this.config, new Error(`An item of "${this.info.path}" failed validation: ${detail}`), this.info))
      }
      const problem = findNonPlainData(item.value, this.config.limits.maxDepth, 1)
      if (problem !== undefined) return this.fail(toWireError(this.config, new Error(`An item of "${this.info.path}" is not plain data: ${problem}`), this.info))
      if (!this.host.sendItem(this.id, item.value)) {
        // The connection closed under us (a slow consumer past the hard limit).
        this.cancel(new Error('connection closed'))
        return
      }
      this.credit--
      this.pump()
    }
    if (checked instanceof Promise) {
      checked.then(next, (error: unknown) => {
        this.pulling = false
        this.fail(toWireError(this.config, error, this.info))
      })
    } else next(checked)
  }

  /** Ends the stream with `error`; `stop` is false when the generator already ended by throwing. */
  private fail(error: WireError, stop = true): void {
    if (this.finished) return
    this.finished = true
    this.host.end(this.id, error)
    if (stop) this.stop()
    this.onFinish()
  }

  private stop(): void {
    const iterator = this.iterator
    if (iterator?.return === undefined) return
    // A generator suspended at `yield` runs its `finally` now; one awaiting inside runs it
    // after that await settles (the abort signal lets it cut the wait short).
    try {
      Promise.resolve(iterator.return()).catch((error: unknown) => this.config.onError?.(error, this.info))
    } catch (error) {
      this.config.onError?.(error, this.info)
    }
  }
}
