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
  parseUnrepresentable,
  sendableError,
  serverWire,
  Tag,
  truncateCloseReason,
  turnNow,
  type Codec,
  type Frame,
  type CallMessage,
  type ClientMessage,
  type Limits,
  type PubMessage,
  type RequestId,
  type ResumePoint,
  type ServerMessage,
  type StreamMessage,
  type SubMessage,
  type WireError,
} from '@patchbay/core'
import { CallSignal, dispatch, toWireError, type DispatchConfig, type Outcome } from './dispatch.js'
import type { Claim, DedupeStore } from './idempotency.js'
import type { RequestKind, RequestScope, ServerInstrumentation } from './instrumentation.js'
import { Outbound, type Delivery, type FlowLimits, type FlowTransport } from './outbound.js'
import { takeToken, type RateLimit } from './rate-limit.js'
import type { Subscriber } from './pubsub.js'
import { StreamRun, type StreamHost, type StreamsConfig } from './streams.js'
import { preparePublish, prepareSubscribe, type TopicOutcome, type TopicRoute, type TopicsConfig } from './topics.js'
import type { ConnectionInfo, ServerStats } from './types.js'
import type { ServerLog } from './log-events.js'

/** What a session needs from a socket: send and close, and the flow-control side (§14). */
export interface Transport extends FlowTransport {
  /**
   * Sends one frame, a text frame under a text codec (JSON) and a binary frame under a binary
   * one: a JSON frame may come as a string or as its UTF-8 bytes (a topic event, encoded to
   * bytes once for all its subscribers rather than once per socket).
   */
  send(frame: Frame): void
  /** Starts the closing handshake. */
  close(code: number, reason: string): void
}

/** What a session shares with its server. */
export interface SessionConfig extends DispatchConfig, TopicsConfig, StreamsConfig {
  readonly limits: Limits
  readonly flow: FlowLimits
  readonly stats: ServerStats
  /** Outcomes of idempotent calls, shared by every connection (§4.2). */
  readonly dedupe: DedupeStore
  /** The inbound rate limit per connection, if any (§9.1). */
  readonly rateLimit: RateLimit | undefined
  /** When a connection's credentials expire (epoch ms): it is closed with 4401 then. */
  readonly expiresAt: ((ctx: unknown) => number | Date | undefined) | undefined
  /** Where violations, slow consumers and drops are logged (log-events.ts); none: not logged. */
  readonly log?: ServerLog | undefined
  /** Tracing and metrics hooks (instrumentation.ts); undefined costs one check per request. */
  readonly instrumentation?: ServerInstrumentation | undefined
}

const REQUESTS = new Set(['call', 'sub', 'pub', 'stream'])
/** A request's message type as the instrumentation names it. */
const KINDS: Readonly<Record<RequestMessage['t'], RequestKind>> = { call: 'call', sub: 'subscribe', pub: 'publish', stream: 'stream' }
type RequestMessage = CallMessage | SubMessage | PubMessage | StreamMessage
/** Shared, never written: read-only stand-ins until a session needs its own. */
const NO_STREAMS: ReadonlyMap<RequestId, StreamRun> = new Map()
const NO_KEYS: ReadonlySet<RequestId> = new Set()
const NO_CALLS: ReadonlyMap<RequestId, CallSignal> = new Map()
const NO_SUBSCRIPTIONS: ReadonlyMap<RequestId, string | null> = new Map()

/** §6, §9: what a call whose result is not plain data (or would not encode) gets. */
const UNENCODABLE_RESULT: WireError = Object.freeze({ code: ErrorCode.INTERNAL, message: 'Result could not be encoded' }) as WireError

const lostReason = (): PatchbayError => new PatchbayError(ErrorCode.CONNECTION_LOST, 'The connection closed')
const cancelReason = (): PatchbayError => new PatchbayError(ErrorCode.CANCELLED, 'The client cancelled the call')

/** One connection's protocol state. */
export class Session implements Subscriber, StreamHost {
  /**
   * Calls whose outcome is pending, by request id. Synchronous calls never enter it. This and
   * the other collections below are shared empty ones until first written (`hold`, `stream`,
   * `subscribe`, ...): an empty Map costs ~180 bytes, and an idle connection should cost as
   * little as a raw socket.
   */
  private inFlight = NO_CALLS as Map<RequestId, CallSignal>
  /** Streams running, by request id (the same id space as calls, §4.1). */
  private streams = NO_STREAMS as Map<RequestId, StreamRun>
  private readonly outbound: Outbound
  /** Calls with an idempotency key: a dropped connection does not abort them (a retry joins them). */
  private keyed = NO_KEYS as Set<RequestId>
  /** The inbound rate limit (§9.1), if any. */
  private readonly rateLimit: RateLimit | undefined
  /**
   * This connection's token bucket (rate-limit.ts's `TokenBucket`, taken from by
   * `takeToken(this, …)`), kept in its own two fields rather than an object per connection:
   * tokens left (negative: the debt)…
   * @internal
   */
  tokens = 0
  /**
   * …and when they were last refilled (epoch ms).
   * @internal
   */
  refilledAt = 0
  private expiry: ReturnType<typeof setTimeout> | undefined
  /** Subscriptions by the id of their `sub`: the channel, or null while being authorized. */
  private subscriptions = NO_SUBSCRIPTIONS as Map<RequestId, string | null>
  /** Publishes waiting for an asynchronous `authorizePublish`: their ids are live too (§4.1). */
  private publishing = NO_KEYS as Set<RequestId>
  private closed = false
  /** Counted in `stats.violations` already: a connection counts once, however it broke the rules. */
  private violated = false
  private idleWaiters: (() => void)[] | undefined
  /**
   * Frames that arrived after reading was paused (§14): ws hands over every frame of a chunk
   * it already read, so without this a burst of calls in one chunk would all run past the
   * high-water mark. At most one read chunk waits here; they run, in order, on resume.
   */
  private inbox: Frame[] | undefined
  /** Made only when a topic middleware reads its `signal`: aborts when the connection closes. */
  private closing: AbortController | undefined
  /** Requests the instrumentation follows, by id; made only when it follows one. */
  private scopes: Map<RequestId, RequestScope> | undefined

  constructor(
    private readonly config: SessionConfig,
    private readonly transport: Transport,
    readonly codec: Codec,
    private readonly ctx: unknown,
    readonly info: ConnectionInfo,
  ) {
    this.outbound = new Outbound(transport, config.flow, codec, config.stats, this)
    this.rateLimit = config.rateLimit
    if (config.rateLimit !== undefined) {
      this.tokens = config.rateLimit.burst
      this.refilledAt = Date.now()
    }
    const expires = config.expiresAt?.(ctx)
    if (expires !== undefined) {
      const delay = Math.max(0, (typeof expires === 'number' ? expires : expires.getTime()) - Date.now())
      // setTimeout holds at most 2^31-1 ms (~24.8 days); later expiries need no timer yet.
      if (delay < 2 ** 31) {
        this.expiry = setTimeout(() => this.close(CloseCode.UNAUTHORIZED, 'Credentials expired'), delay)
        ;(this.expiry as { unref?: () => void }).unref?.()
      }
    }
  }

  /** Aborts when this connection closes: the `signal` a topic middleware sees. */
  get signal(): AbortSignal {
    this.closing ??= new AbortController()
    if (this.closed) this.closing.abort(lostReason())
    return this.closing.signal
  }

  /** Outbound: the connection read too slowly (§14). */
  slowConsumer(reason: string): void {
    // Read before the close: the buffered bytes are what made it a slow consumer.
    if (!this.closed) this.config.log?.slowConsumer(this.info.id, reason, this.transport.bufferedAmount)
    this.config.instrumentation?.slowConsumer?.(this.info, reason)
    this.close(CloseCode.SLOW_CONSUMER, reason)
  }

  /** Outbound: a congested reader started losing events of a `drop` or `latest` topic. */
  dropping(topic: string, policy: string): void {
    this.config.log?.dropping(this.info.id, topic, policy)
  }

  /** Outbound: events for this connection were dropped by a backpressure policy (§14). */
  dropped(topic: string | undefined): void {
    this.config.instrumentation?.dropped?.(this.info, topic, 1)
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
    return new Promise((resolve) => (this.idleWaiters ??= []).push(resolve))
  }

  private forget(id: RequestId): void {
    this.inFlight.delete(id)
    if (this.keyed.size > 0) this.keyed.delete(id)
    if (this.inFlight.size === 0 && this.idleWaiters !== undefined) {
      const waiters = this.idleWaiters
      this.idleWaiters = undefined
      for (const resolve of waiters) resolve()
    }
  }

  /** Handles one frame from the client, or keeps it while reading is paused. */
  receive(frame: Frame): void {
    if (this.closed) return
    if (this.inbox !== undefined || this.outbound.isPaused) {
      ;(this.inbox ??= []).push(frame)
      return
    }
    this.handle(frame)
  }

  /** Outbound: reading resumed; run the frames kept meanwhile until it pauses again. */
  resumed(): void {
    const inbox = this.inbox
    if (inbox === undefined) return
    let next = 0
    while (next < inbox.length && !this.closed && !this.outbound.isPaused) this.handle(inbox[next++] as Frame)
    if (next >= inbox.length || this.closed) this.inbox = undefined
    else this.inbox = inbox.slice(next)
  }

  private handle(frame: Frame): void {
    let parsed: ReturnType<typeof parseClientMessage>
    try {
      parsed = parseClientMessage(this.codec.decode(frame), this.config.limits)
    } catch (error) {
      if (error instanceof CodecError && error.kind === CodecErrorKind.WRONG_FRAME_KIND) {
        this.violate(CloseCode.UNSUPPORTED_DATA, error.message)
        return
      }
      if (!(error instanceof CodecError && error.envelope !== undefined)) {
        this.violate(CloseCode.BAD_REQUEST, error instanceof CodecError ? error.message : 'frame does not decode')
        return
      }
      // Well-formed bytes with a value the decoder cannot build: answered for its id (§9).
      parsed = parseUnrepresentable(error.envelope, error.message)
    }
    if (parsed.kind === 'violation') {
      this.violate(CloseCode.BAD_REQUEST, parsed.reason)
      return
    }
    if (this.rateLimit !== undefined && this.overRate(parsed)) return
    if (parsed.kind === 'reject') {
      if (this.isLive(parsed.id)) return this.duplicate(parsed.id)
      this.reply(parsed.id, { ok: false, error: parsed.error })
      return
    }
    const message = parsed.message
    // The one check a request pays for instrumentation: without it, the path is as it was.
    const request = this.config.instrumentation?.request
    if (request !== undefined && REQUESTS.has(message.t)) return this.traced(request, message as RequestMessage)
    this.route(message)
  }

  /** Starts following a request (instrumentation.ts), then runs it inside its scope. */
  private traced(request: NonNullable<ServerInstrumentation['request']>, message: RequestMessage): void {
    // A live id is a duplicate (closed 4409): the request it names keeps its own scope.
    const scope = this.isLive(message.id) || this.scopes?.has(message.id) === true ? undefined : request({
      kind: KINDS[message.t],
      id: message.id,
      path: message.path,
      connection: this.info,
      traceparent: message.traceparent,
      tracestate: message.tracestate,
    })
    if (scope === undefined) return this.route(message)
    // Filed before it runs: a synchronous call is answered (and its scope ended) inside run.
    ;(this.scopes ??= new Map()).set(message.id, scope)
    scope.run(() => this.route(message))
  }

  /** Ends the scope of request `id`, if one follows it. */
  private ended(id: RequestId, code: string | undefined): void {
    const scope = this.scopes?.get(id)
    if (scope === undefined) return
    this.scopes?.delete(id)
    scope.end(code)
  }

  /** Runs one valid message. */
  private route(message: ClientMessage): void {
    switch (message.t) {
      case 'call':
        this.call(message.id, message.path, message.input, message.key)
        return
      case 'cancel':
        if (!this.stop(message.id)) this.config.stats.lateCancels++
        return
      case 'ping':
        this.send({ t: 'pong' })
        return
      case 'pong':
        return
      case 'sub':
        this.subscribe(message.id, message.path, message.params, message.resume)
        return
      case 'unsub':
        this.stop(message.id)
        return
      case 'pub':
        this.publish(message.id, message.path, message.params, message.data)
        return
      case 'stream':
        this.stream(message.id, message.path, message.input, message.credit, message.received)
        return
      case 'credit':
        // Credit for a stream that has ended crossed its end on the wire; credit naming a call,
        // a subscription or a publish means nothing to it (§4.1): nothing to do either way.
        this.streams.get(message.id)?.grant(message.n)
        return
    }
  }

  /**
   * `cancel` and `unsub` alike (§4.1): ends whatever holds `id`, a call, a stream, a
   * subscription or a publish, and nothing more is sent for it. False when nothing held it.
   */
  private stop(id: RequestId): boolean {
    if (this.scopes !== undefined) this.ended(id, ErrorCode.CANCELLED)
    const call = this.inFlight.get(id)
    if (call !== undefined) {
      // §5: nothing more is sent for a cancelled id; forgetting it also frees the id.
      this.forget(id)
      call.abort(cancelReason())
      return true
    }
    const stream = this.streams.get(id)
    if (stream !== undefined) {
      // §15: a cancelled stream gets no further message; its generator's finally runs.
      stream.cancel(cancelReason())
      return true
    }
    if (this.subscriptions.has(id)) {
      this.unsubscribe(id)
      return true
    }
    // A publish still being authorized is not published (§13).
    return this.publishing.size > 0 && this.publishing.delete(id)
  }

  /**
   * Takes the message's token from the rate limit (§9.1); true when that answered or closed the
   * connection, so the message goes no further.
   */
  private overRate(parsed: Exclude<ReturnType<typeof parseClientMessage>, { kind: 'violation' }>): boolean {
    // Credit for a running stream is flow control the server asked for (one per half window of
    // items it sent), so it takes no token: a fast stream must not rate-limit its own consumer.
    if (parsed.kind === 'message' && parsed.message.t === 'credit' && this.streams.has(parsed.message.id)) return false
    const verdict = takeToken(this, this.rateLimit as RateLimit, turnNow())
    if (verdict === 'ok') return false
    this.config.stats.rateLimited++
    this.config.instrumentation?.rateLimited?.(this.info)
    if (verdict === 'flood') {
      this.violate(CloseCode.TOO_MANY_REQUESTS, 'Message rate limit exceeded')
      return true
    }
    // A request gets an answer it can act on; control messages go through (dropping a cancel
    // or an unsub would leave work running), but they deepen the debt.
    if (parsed.kind === 'message' && !REQUESTS.has(parsed.message.t)) return false
    const id = parsed.kind === 'reject' ? parsed.id : (parsed.message as { id: RequestId }).id
    this.config.log?.rateLimited(this.info.id, id)
    if (this.isLive(id)) this.duplicate(id)
    else this.reply(id, { ok: false, error: { code: ErrorCode.RATE_LIMITED, message: 'Too many messages; slow down' } })
    return true
  }

  /** Delivers a topic event (its frame shared by every subscriber of this codec). */
  deliver(frame: Frame, ch: number, seq: number, delivery: Delivery): void {
    if (!this.closed) this.outbound.deliver(frame, ch, seq, delivery)
  }

  /** Tells of a channel's new epoch (a reset, §14): supersedes what is held or counted for `ch`. */
  reset(frame: Frame, ch: number): void {
    if (!this.closed) this.outbound.reset(frame, ch)
  }

  /** Tells of events of `ch` the topic engine lost (a counted lag, §14). */
  lost(ch: number, seq: number, missed: number): void {
    if (!this.closed) this.outbound.lost(ch, seq, missed)
  }

  /** Streams running now. */
  get streamCount(): number {
    return this.streams.size
  }

  private stream(id: RequestId, path: string, input: unknown, credit: number, received: number | undefined): void {
    if (!this.admit(id)) return
    const route = this.config.streams.get(path)
    if (route === undefined) {
      this.reply(id, { ok: false, error: { code: ErrorCode.NOT_FOUND, message: `No stream at "${path}"` } })
      return
    }
    const run: StreamRun = new StreamRun(this.config, route, id, credit, this, { path, connectionId: this.info.id }, () => {
      if (this.streams.get(id) === run) this.streams.delete(id)
    })
    if (this.streams === NO_STREAMS) this.streams = new Map()
    this.streams.set(id, run)
    run.start(input, this.ctx, this.info, received)
  }

  /** StreamHost: sends one item of stream `id`. */
  sendItem(id: RequestId, data: unknown): boolean {
    if (this.closed) return false
    if (!this.send({ t: 'item', id, data })) {
      // Plain data that still would not encode: the stream ends with an error, never silently.
      this.end(id, { code: ErrorCode.INTERNAL, message: 'Item could not be encoded' })
      return false
    }
    return !this.closed
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

  private subscribe(id: RequestId, path: string, params: unknown, resume: ResumePoint | undefined): void {
    if (this.isLive(id)) return this.duplicate(id)
    if (this.subscriptions.size >= this.config.limits.maxSubscriptions) {
      this.reply(id, { ok: false, error: { code: ErrorCode.TOO_MANY_REQUESTS, message: `More than ${this.config.limits.maxSubscriptions} subscriptions` } })
      return
    }
    if (this.subscriptions === NO_SUBSCRIPTIONS) this.subscriptions = new Map()
    this.subscriptions.set(id, null)
    const settle = (outcome: TopicOutcome): void => {
      // Unsubscribed (or disconnected) while being authorized: nobody waits for the answer.
      if (this.closed || this.subscriptions.get(id) !== null) return
      if (!outcome.ok) {
        this.subscriptions.delete(id)
        this.reply(id, outcome)
        return
      }
      // Registration, the confirmation and any replay happen in one step (the answer), so
      // no event can slip between them (§12.1). A resume beyond the channel's latest seq is
      // refused there too. Until answered the subscription stays null: an unsub or a close
      // meanwhile makes the answer return false, and the registry lets it go.
      const channel = outcome.channel
      this.config.pubsub.subscribe(channel, this, this.config.topics.get(path) as TopicRoute, resume, (answer) => {
        if (this.closed || this.subscriptions.get(id) !== null) return false
        if (!answer.ok) {
          this.subscriptions.delete(id)
          this.reply(id, answer)
          return false
        }
        const { ch, seq, epoch, replay } = answer.subscribed
        this.subscriptions.set(id, channel)
        this.reply(id, { ok: true, output: { ch, seq, epoch } })
        for (const event of replay) this.send({ t: 'event', ch, seq: event.seq, data: event.data })
        return true
      })
    }
    const outcome = prepareSubscribe(this.config, path, params, this.ctx, this.info, this)
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
    if (!this.admit(id)) return
    const settle = (outcome: TopicOutcome): void => {
      if (this.closed) return
      if (!outcome.ok) return this.reply(id, outcome)
      const delivered = this.config.pubsub.publish(outcome.channel, outcome.data, this.config.topics.get(path) as TopicRoute)
      if (typeof delivered === 'number') return this.reply(id, { ok: true, output: { delivered } })
      // An engine elsewhere answers later: the id stays live until then (§4.1).
      if (this.publishing === NO_KEYS) this.publishing = new Set()
      this.publishing.add(id)
      void delivered.then(
        (count) => {
          if (this.publishing.delete(id) && !this.closed) this.reply(id, { ok: true, output: { delivered: count } })
        },
        (error: unknown) => {
          if (this.publishing.delete(id) && !this.closed) this.reply(id, { ok: false, error: toWireError(this.config, error, { path, connectionId: this.info.id }) })
        },
      )
    }
    const outcome = preparePublish(this.config, path, params, data, this.ctx, this.info, this)
    if (!(outcome instanceof Promise)) return settle(outcome)
    // Live until answered (§4.1): another request may not take the id meanwhile, and a
    // cancel or unsub withdraws the message if its authorization has not finished.
    if (this.publishing === NO_KEYS) this.publishing = new Set()
    this.publishing.add(id)
    void outcome.then((settled) => {
      if (this.publishing.delete(id)) settle(settled)
    })
  }

  /** The socket closed: abort every handler still running and forget its call. */
  handleClose(): void {
    if (this.scopes !== undefined) for (const id of [...this.scopes.keys()]) this.ended(id, ErrorCode.CONNECTION_LOST)
    for (const [id, channel] of this.subscriptions) {
      this.subscriptions.delete(id)
      if (channel !== null) this.config.pubsub.unsubscribe(channel, this)
    }
    this.inbox = undefined
    if (this.publishing.size > 0) this.publishing.clear()
    // Before the early return below: a connection the server closed itself (a violation, a
    // flood, a slow consumer) comes here with `closed` already set, and its expiry timer
    // would otherwise hold the whole session until the credentials expire.
    clearTimeout(this.expiry)
    this.expiry = undefined
    this.closing?.abort(lostReason())
    this.outbound.close()
    if (this.closed && this.inFlight.size === 0 && this.streams.size === 0) return
    this.closed = true
    // Keyed calls run on: the client retries them on its next connection and joins them (§4.2).
    const calls = [...this.inFlight].filter(([id]) => !this.keyed.has(id)).map(([, call]) => call)
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

  /** True while a call, stream, subscription or publish of this connection holds `id` (§4.1). */
  private isLive(id: RequestId): boolean {
    return this.inFlight.has(id) || this.streams.has(id) || this.subscriptions.has(id) || this.publishing.has(id)
  }

  /** Checks a new call's, stream's or publish's id and the in-flight limit; false when it was answered (or closed). */
  private admit(id: RequestId): boolean {
    const running = this.inFlight.size + this.streams.size + this.publishing.size
    // Most calls arrive with nothing else running (a synchronous handler answers at once):
    // then no id can be live, and the four lookups are skipped.
    if ((running > 0 || this.subscriptions.size > 0) && this.isLive(id)) {
      this.duplicate(id)
      return false
    }
    if (running >= this.config.limits.maxInFlight) {
      this.reply(id, {
        ok: false,
        error: { code: ErrorCode.TOO_MANY_REQUESTS, message: `More than ${this.config.limits.maxInFlight} calls in flight` },
      })
      return false
    }
    return true
  }

  /**
   * Runs a call. With an idempotency key it runs once per (path, key) in the dedupe window
   * (§4.2): a retry gets the remembered outcome, or joins the run still going, and a keyed
   * call is not aborted when its connection drops (the retry may join it).
   */
  private call(id: RequestId, path: string, input: unknown, key: string | undefined): void {
    if (!this.admit(id)) return
    const claim = key === undefined ? undefined : this.config.dedupe.claim(path, key)
    if (!(claim instanceof Promise)) {
      this.claimed(id, path, input, claim, undefined)
      return
    }
    // A store in another process (Redis) answers later, and may wait there for a run on
    // another node: the call is in flight (and keyed: a drop does not end it) meanwhile.
    const signal = new CallSignal()
    this.track(id, signal)
    claim.then(
      (settled) => this.claimed(id, path, input, settled, signal),
      (error: unknown) => {
        this.config.onError?.(error, { path, connectionId: this.info.id })
        this.claimed(id, path, input, { kind: 'refused', error: { code: ErrorCode.UNAVAILABLE, message: 'Idempotency store unavailable' } }, signal)
      },
    )
  }

  /** Marks call `id` in flight, making this session's own table on its first asynchronous call. */
  private hold(id: RequestId, signal: CallSignal): void {
    if (this.inFlight === NO_CALLS) this.inFlight = new Map()
    this.inFlight.set(id, signal)
  }

  /** Marks a keyed call in flight: a dropped connection does not abort it (a retry may join it). */
  private track(id: RequestId, signal: CallSignal): void {
    this.hold(id, signal)
    if (this.keyed === NO_KEYS) this.keyed = new Set()
    this.keyed.add(id)
  }

  /**
   * Runs or answers a call once its key was claimed (`claim` undefined: no key). `tracked` is
   * the call's signal when it was already put in flight while an asynchronous store answered.
   */
  private claimed(id: RequestId, path: string, input: unknown, claim: Claim | undefined, tracked: CallSignal | undefined): void {
    if (claim?.kind === 'done' || claim?.kind === 'full' || claim?.kind === 'refused') {
      const answer: Outcome =
        claim.kind === 'done'
          ? claim.outcome
          : claim.kind === 'refused'
            ? { ok: false, error: claim.error }
            : { ok: false, error: { code: ErrorCode.TOO_MANY_REQUESTS, message: this.config.dedupe.refusal(claim.reason) } }
      this.answer(id, answer, tracked)
      return
    }
    const signal = tracked ?? new CallSignal()
    const outcome = claim?.kind === 'running' ? claim.outcome : dispatch(this.config, path, input, this.ctx, this.info, signal)
    const remember = claim?.kind === 'run' ? claim.finish : undefined
    if (!(outcome instanceof Promise)) {
      remember?.(outcome)
      this.answer(id, outcome, tracked)
      return
    }
    if (tracked === undefined) {
      if (claim === undefined) this.hold(id, signal)
      else this.track(id, signal)
    }
    const settle = (settled: Outcome): void => {
      remember?.(settled)
      // A cancel or a close removed the entry (or replaced it after a cancel freed the id):
      // the client no longer waits for this outcome.
      if (this.inFlight.get(id) !== signal) return
      this.forget(id)
      this.reply(id, settled)
    }
    outcome.then(settle, (error: unknown) => {
      // dispatch settles every handler failure itself; this is a bug guard, never silent.
      this.config.onError?.(error, { path, connectionId: this.info.id })
      settle({ ok: false, error: { code: ErrorCode.INTERNAL, message: 'Internal server error' } })
    })
  }

  /** Replies, unless the call was in flight (`tracked`) and a cancel or a close removed it since. */
  private answer(id: RequestId, outcome: Outcome, tracked: CallSignal | undefined): void {
    if (tracked === undefined) this.reply(id, outcome)
    else if (this.inFlight.get(id) === tracked) {
      this.forget(id)
      this.reply(id, outcome)
    }
  }

  private duplicate(id: RequestId): void {
    this.violate(CloseCode.DUPLICATE_ID, `id ${id} is already in use`)
  }

  private reply(id: RequestId, outcome: Outcome): void {
    this.config.stats.calls++
    if (this.scopes !== undefined) this.ended(id, outcome.ok ? undefined : outcome.error.code)
    if (outcome.ok) {
      // A Date, Map or BigInt would reach msgpack clients as an extension value they must
      // refuse (closing 4400): fail this call instead, in every codec alike.
      const problem = findNonPlainData(outcome.output, this.config.limits.maxDepth, 1)
      if (problem !== undefined) {
        this.config.onError?.(new TypeError(`Result is not plain data: ${problem}`), { path: '(result)', connectionId: this.info.id })
        this.send({ t: 'error', id, error: UNENCODABLE_RESULT })
        return
      }
      // Its §3 array at once (what serverWire makes of a result): the message every call sends.
      const wire = outcome.output === undefined ? [Tag.RESULT, id] : [Tag.RESULT, id, outcome.output]
      // Plain data that still would not encode: tell the caller rather than go silent.
      if (!this.sendWire(wire)) this.send({ t: 'error', id, error: UNENCODABLE_RESULT })
      return
    }
    // §6: data or issues that are not plain data are dropped; code and message always go.
    const error: WireError = sendableError(outcome.error, this.config.limits.maxDepth)
    if (!this.send({ t: 'error', id, error })) {
      this.send({ t: 'error', id, error: { code: error.code, message: error.message } })
    }
  }

  /**
   * Encodes once and sends through flow control; false if the message would not encode.
   * Past the hard limit the send closes the connection instead (§14): true, nothing to retry.
   */
  private send(message: ServerMessage): boolean {
    return this.sendWire(serverWire(message))
  }

  /** {@link send} for a message already in its §3 array. */
  private sendWire(wire: unknown[]): boolean {
    if (this.closed) return true
    let frame: Frame
    try {
      frame = this.codec.encode(wire)
    } catch {
      return false
    }
    this.outbound.send(frame)
    return true
  }

  private violate(code: number, reason: string): void {
    if (!this.closed) this.config.log?.violation(this.info.id, code, reason)
    this.countViolation()
    this.close(code, reason)
  }

  /**
   * Counts this connection in `stats.violations`, once. The transport calls it for a framing
   * fault it closed the connection for itself (§2.2). A peer that goes on sending after the
   * connection was closed (for a violation or for anything else) breaks nothing new: `ws`
   * still reads until the peer's close frame, and a fuzzer's next bad frame would otherwise
   * count the same connection again.
   */
  countViolation(): void {
    if (this.violated || this.closed) return
    this.violated = true
    this.config.stats.violations++
  }
}
