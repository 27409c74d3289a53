/**
 * One client session, runtime-free: frames in, frames out through a {@link Transport}.
 * It owns the protocol rules of docs/protocol.md §3–§7 for the server side: decoding,
 * validation, in-flight ids, cancellation, and the close code of every violation.
 */
import {
  CloseCode,
  CodecError,
  CodecErrorKind,
  ErrorCode,
  PatchbayError,
  findNonPlainData,
  parseClientMessage,
  truncateCloseReason,
  type Codec,
  type Frame,
  type Limits,
  type RequestId,
  type ServerMessage,
  type WireError,
} from '@patchbay/core'
import { CallSignal, dispatch, type DispatchConfig, type Outcome } from './dispatch.js'
import { Outbound, type Delivery, type FlowLimits, type FlowTransport } from './outbound.js'
import type { Subscriber } from './pubsub.js'
import { StreamRun, type StreamHost, type StreamsConfig } from './streams.js'
import { preparePublish, prepareSubscribe, type TopicOutcome, type TopicsConfig } from './topics.js'
import type { ConnectionInfo, ServerStats } from './types.js'

/** What a session needs from a socket: send and close, and the flow-control side (§14). */
export interface Transport extends FlowTransport {
  /** Sends one frame: a string as a text frame, bytes as a binary frame. */
  send(frame: Frame): void
  /** Starts the closing handshake. */
  close(code: number, reason: string): void
}

/** What a session shares with its server. */
export interface SessionConfig extends DispatchConfig, TopicsConfig, StreamsConfig {
  readonly limits: Limits
  readonly flow: FlowLimits
  readonly stats: ServerStats
}

const lostReason = (): PatchbayError => new PatchbayError(ErrorCode.CONNECTION_LOST, 'The connection closed')
const cancelReason = (): PatchbayError => new PatchbayError(ErrorCode.CANCELLED, 'The client cancelled the call')

/** One connection's protocol state. */
export class Session implements Subscriber, StreamHost {
  /** Calls whose outcome is pending, by request id. Synchronous calls never enter it. */
  private readonly inFlight = new Map<RequestId, CallSignal>()
  /** Streams running, by request id (the same id space as calls, §4.1). */
  private readonly streams = new Map<RequestId, StreamRun>()
  private readonly outbound: Outbound
  /** Subscriptions by the id of their `sub`: the channel, or null while being authorized. */
  private readonly subscriptions = new Map<RequestId, string | null>()
  private closed = false
  private idleWaiters: (() => void)[] = []

  constructor(
    private readonly config: SessionConfig,
    private readonly transport: Transport,
    readonly codec: Codec,
    private readonly ctx: unknown,
    readonly info: ConnectionInfo,
  ) {
    this.outbound = new Outbound(transport, config.flow, codec, config.stats, (reason) => this.close(CloseCode.SLOW_CONSUMER, reason))
  }

  /** Bytes waiting to go out on this connection. */
  get bufferedAmount(): number {
    return this.transport.bufferedAmount
  }

  /** Calls in flight now. */
  get pendingCalls(): number {
    return this.inFlight.size
  }

  /** Resolves when no call is in flight (at once if none is). */
  idle(): Promise<void> {
    if (this.inFlight.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private forget(id: RequestId): void {
    this.inFlight.delete(id)
    if (this.inFlight.size === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters
      this.idleWaiters = []
      for (const resolve of waiters) resolve()
    }
  }

  /** Handles one frame from the client. */
  receive(frame: Frame): void {
    if (this.closed) return
    let data: unknown
    try {
      data = this.codec.decode(frame)
    } catch (error) {
      if (error instanceof CodecError && error.kind === CodecErrorKind.WRONG_FRAME_KIND) {
        this.violate(CloseCode.UNSUPPORTED_DATA, error.message)
      } else {
        this.violate(CloseCode.BAD_REQUEST, error instanceof CodecError ? error.message : 'frame does not decode')
      }
      return
    }
    const parsed = parseClientMessage(data, this.config.limits)
    if (parsed.kind === 'violation') {
      this.violate(CloseCode.BAD_REQUEST, parsed.reason)
      return
    }
    if (parsed.kind === 'reject') {
      if (this.inFlight.has(parsed.id)) return this.duplicate(parsed.id)
      this.reply(parsed.id, { ok: false, error: parsed.error })
      return
    }
    const message = parsed.message
    switch (message.t) {
      case 'call':
        this.call(message.id, message.path, message.input)
        return
      case 'cancel': {
        const call = this.inFlight.get(message.id)
        if (call === undefined) {
          const stream = this.streams.get(message.id)
          if (stream !== undefined) {
            // §15: a cancelled stream gets no further message; its generator's finally runs.
            stream.cancel(cancelReason())
            return
          }
          this.config.stats.lateCancels++
          return
        }
        // §5: nothing more is sent for a cancelled id; forgetting it also frees the id.
        this.forget(message.id)
        call.abort(cancelReason())
        return
      }
      case 'ping':
        this.send({ t: 'pong' })
        return
      case 'pong':
        return
      case 'sub':
        this.subscribe(message.id, message.path, message.params)
        return
      case 'unsub':
        this.unsubscribe(message.id)
        return
      case 'pub':
        this.publish(message.id, message.path, message.params, message.data)
        return
      case 'stream':
        this.stream(message.id, message.path, message.input, message.credit)
        return
      case 'credit':
        // Credit for a stream that has ended crossed its end on the wire: nothing to do.
        this.streams.get(message.id)?.grant(message.n)
        return
    }
  }

  /** Delivers a topic event (its frame shared by every subscriber of this codec). */
  deliver(frame: Frame, channel: string, seq: number, delivery: Delivery): void {
    if (!this.closed) this.outbound.deliver(frame, channel, seq, delivery)
  }

  /** Streams running now. */
  get streamCount(): number {
    return this.streams.size
  }

  private stream(id: RequestId, path: string, input: unknown, credit: number): void {
    if (this.inFlight.has(id) || this.streams.has(id)) return this.duplicate(id)
    const route = this.config.streams.get(path)
    if (route === undefined) {
      this.reply(id, { ok: false, error: { code: ErrorCode.NOT_FOUND, message: `No stream at "${path}"` } })
      return
    }
    if (this.inFlight.size + this.streams.size >= this.config.limits.maxInFlight) {
      this.reply(id, { ok: false, error: { code: ErrorCode.TOO_MANY_REQUESTS, message: `More than ${this.config.limits.maxInFlight} calls in flight` } })
      return
    }
    const run: StreamRun = new StreamRun(this.config, route, id, credit, this, { path, connectionId: this.info.id }, () => {
      if (this.streams.get(id) === run) this.streams.delete(id)
    })
    this.streams.set(id, run)
    run.start(input, this.ctx, this.info)
  }

  /** StreamHost: sends one item of stream `id`. */
  sendItem(id: RequestId, data: unknown): boolean {
    if (this.closed) return false
    return this.send({ t: 'item', id, data }) && !this.closed
  }

  /** StreamHost: ends stream `id` with a result, or with `error`. */
  end(id: RequestId, error: WireError | undefined): void {
    this.reply(id, error === undefined ? { ok: true, output: undefined } : { ok: false, error })
  }

  /** StreamHost: runs `resume` once this connection is below its high-water mark. */
  whenUncongested(resume: () => void): void {
    if (!this.closed) this.outbound.whenUncongested(resume)
  }

  /** Subscriptions held, confirmed or not. */
  get subscriptionCount(): number {
    return this.subscriptions.size
  }

  private subscribe(id: RequestId, path: string, params: unknown): void {
    if (this.subscriptions.has(id)) return this.duplicate(id)
    if (this.subscriptions.size >= this.config.limits.maxSubscriptions) {
      this.reply(id, { ok: false, error: { code: ErrorCode.TOO_MANY_REQUESTS, message: `More than ${this.config.limits.maxSubscriptions} subscriptions` } })
      return
    }
    this.subscriptions.set(id, null)
    const settle = (outcome: TopicOutcome): void => {
      // Unsubscribed (or disconnected) while being authorized: nobody waits for the answer.
      if (this.closed || this.subscriptions.get(id) !== null) return
      if (!outcome.ok) {
        this.subscriptions.delete(id)
        this.reply(id, outcome)
        return
      }
      this.subscriptions.set(id, outcome.channel)
      // Registration and the confirmation happen in one step, so no event can slip between.
      const seq = this.config.pubsub.subscribe(outcome.channel, this)
      this.reply(id, { ok: true, output: { ch: outcome.channel, seq } })
    }
    const outcome = prepareSubscribe(this.config, path, params, this.ctx, this.info)
    if (outcome instanceof Promise) void outcome.then(settle)
    else settle(outcome)
  }

  private unsubscribe(id: RequestId): void {
    const channel = this.subscriptions.get(id)
    if (channel === undefined) return
    this.subscriptions.delete(id)
    if (channel !== null) this.config.pubsub.unsubscribe(channel, this)
  }

  private publish(id: RequestId, path: string, params: unknown, data: unknown): void {
    const settle = (outcome: TopicOutcome): void => {
      if (this.closed) return
      if (!outcome.ok) return this.reply(id, outcome)
      const delivered = this.config.pubsub.publish(outcome.channel, outcome.data, outcome.delivery as Delivery)
      this.reply(id, { ok: true, output: { delivered } })
    }
    const outcome = preparePublish(this.config, path, params, data, this.ctx, this.info)
    if (outcome instanceof Promise) void outcome.then(settle)
    else settle(outcome)
  }

  /** The socket closed: abort every handler still running and forget its call. */
  handleClose(): void {
    for (const [id, channel] of this.subscriptions) {
      this.subscriptions.delete(id)
      if (channel !== null) this.config.pubsub.unsubscribe(channel, this)
    }
    if (this.closed && this.inFlight.size === 0 && this.streams.size === 0) return
    this.closed = true
    this.outbound.close()
    const calls = [...this.inFlight.values()]
    for (const id of [...this.inFlight.keys()]) this.forget(id)
    for (const call of calls) call.abort(lostReason())
    for (const stream of [...this.streams.values()]) stream.cancel(lostReason())
  }

  /** Closes the connection with `code` (the transport reports the close back). */
  close(code: number, reason: string): void {
    if (this.closed) return
    this.closed = true
    this.transport.close(code, truncateCloseReason(reason))
    this.handleClose()
  }

  private call(id: RequestId, path: string, input: unknown): void {
    if (this.inFlight.has(id) || this.streams.has(id)) return this.duplicate(id)
    if (this.inFlight.size + this.streams.size >= this.config.limits.maxInFlight) {
      this.reply(id, {
        ok: false,
        error: { code: ErrorCode.TOO_MANY_REQUESTS, message: `More than ${this.config.limits.maxInFlight} calls in flight` },
      })
      return
    }
    const signal = new CallSignal()
    const outcome = dispatch(this.config, path, input, this.ctx, this.info, signal)
    if (!(outcome instanceof Promise)) {
      this.reply(id, outcome)
      return
    }
    this.inFlight.set(id, signal)
    outcome.then((settled) => {
      // A cancel or a close removed the entry (or replaced it after a cancel freed the id):
      // the client no longer waits for this outcome.
      if (this.inFlight.get(id) !== signal) return
      this.forget(id)
      this.reply(id, settled)
    }, (error: unknown) => {
      // dispatch settles every handler failure itself; this is a bug guard, never silent.
      if (this.inFlight.get(id) !== signal) return
      this.forget(id)
      this.reply(id, { ok: false, error: { code: ErrorCode.INTERNAL, message: 'Internal server error' } })
      this.config.onError?.(error, { path, connectionId: this.info.id })
    })
  }

  private duplicate(id: RequestId): void {
    this.violate(CloseCode.DUPLICATE_ID, `id ${id} is already in flight`)
  }

  private reply(id: RequestId, outcome: Outcome): void {
    this.config.stats.calls++
    if (outcome.ok) {
      // A Date, Map or BigInt would reach msgpack clients as an extension value they must
      // refuse (closing 4400): fail this call instead, in every codec alike.
      const problem = findNonPlainData(outcome.output, this.config.limits.maxDepth, 1)
      if (problem !== undefined) {
        this.config.onError?.(new TypeError(`Result is not plain data: ${problem}`), { path: '(result)', connectionId: this.info.id })
        this.send({ t: 'error', id, error: { code: ErrorCode.INTERNAL, message: 'Result is not plain data' } })
        return
      }
      const message: ServerMessage = outcome.output === undefined ? { t: 'result', id } : { t: 'result', id, output: outcome.output }
      if (!this.send(message)) {
        // The output would not encode (a BigInt, a cycle, a function): tell the caller rather than go silent.
        this.send({ t: 'error', id, error: { code: ErrorCode.INTERNAL, message: 'Result could not be encoded' } })
      }
      return
    }
    const error: WireError = outcome.error
    if (!this.send({ t: 'error', id, error })) {
      this.send({ t: 'error', id, error: { code: error.code, message: error.message } })
    }
  }

  /**
   * Encodes once and sends through flow control; false if the message would not encode.
   * Past the hard limit the send closes the connection instead (§14): true, nothing to retry.
   */
  private send(message: ServerMessage): boolean {
    if (this.closed) return true
    let frame: Frame
    try {
      frame = this.codec.encode(message)
    } catch {
      return false
    }
    this.outbound.send(frame)
    return true
  }

  private violate(code: number, reason: string): void {
    this.config.stats.violations++
    this.close(code, reason)
  }
}
