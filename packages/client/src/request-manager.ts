/**
 * Correlates calls with replies: ids, pending calls, the queue of calls made before the
 * socket opened, timeouts and cancellation. Knows nothing of sockets: it sends through the
 * function it is given.
 */
import { nanoid } from 'nanoid'
import { DEFAULT_LIMITS, PatchbayError, findNonPlainData, type PatchbayErrorOptions, type RequestId, type ServerMessage } from '@patchbay/core'
import { BAD_REQUEST, CANCELLED, TIMEOUT, TOO_MANY_REQUESTS } from './codes.js'
import { DeadlineHeap, type Deadline } from './deadline-heap.js'
import type { ClientInstrumentation, RequestScope } from './instrumentation.js'
import { PendingTable } from './pending-table.js'

/** Options of one call. */
export interface CallOptions {
  /** Milliseconds before the call fails with TIMEOUT; 0 disables. @default the client's `timeout` */
  timeout?: number
  /** Aborting it fails the call with CANCELLED and cancels the handler on the server. */
  signal?: AbortSignal
  /**
   * Retry the call after a dropped connection instead of failing it with CONNECTION_LOST; it
   * carries an idempotency key, so the server runs it once however often it arrives (§4.2).
   * @default the procedure's `idempotent` flag
   */
  idempotent?: boolean
}

/** Counters a client keeps. */
export interface ClientStats {
  /** Replies for ids no longer waited on (timed out, cancelled, or never sent), dropped. */
  lateReplies: number
  /** Idempotent calls sent again after a dropped connection. */
  retried: number
}

/** What a request asks for: a call, a subscription, a publish or a stream (docs/protocol.md §4, §12, §13, §15). */
export type RequestKind = 'call' | 'sub' | 'pub' | 'stream'

/** A request as its message is made from it. */
export interface RequestFields {
  readonly id: RequestId
  readonly path: string
  /** The call's or stream's input, or the topic's params. */
  readonly input: unknown
  /** The message of a publish; a stream's credit and items received; the resume point of a sub. */
  readonly data: unknown
  /** The idempotency key of a call that is retried after a dropped connection. */
  readonly key: string | undefined
}

/** A message as it is sent (docs/protocol.md §3): an array, its type's tag first. */
export type Wire = unknown[]

/** A request's meta element (§3): a map of what it carries besides its payload, or null. */
export type Meta = Record<string, unknown> | null

/**
 * Makes a request's message, each time it is sent, from its fields and its meta (the trace
 * context, or null; the maker adds its own fields to it). A call's is built in
 * (`callMessage`); the others' are their features' (subscriptions.ts, topics.ts, stream.ts),
 * so a client without topics or streams bundles none of them.
 */
export type MessageOf = (request: RequestFields, meta: Meta) => Wire

/**
 * One request waiting for its answer. A class, so every request has the same shape and the
 * request is its own handle (`id`, `promise`): a call allocates this, its promise, and nothing
 * else of ours.
 */
class Pending implements Deadline, RequestFields {
  resolve!: (value: unknown) => void
  reject!: (error: unknown) => void
  readonly promise: Promise<unknown>
  signal: AbortSignal | undefined = undefined
  onAbort: (() => void) | undefined = undefined
  sent = false
  deadline = Infinity
  heapIndex = -1
  /** The instrumentation's scope for this request, when it follows it. */
  scope: RequestScope | undefined = undefined

  constructor(
    readonly id: RequestId,
    readonly kind: RequestKind,
    /** Makes its message. */
    readonly message: MessageOf,
    readonly path: string,
    /** The call's input, or the topic's params. */
    readonly input: unknown,
    /** The message of a publish; a stream's credit and items received; the resume point of a sub. */
    readonly data: unknown,
    /** The idempotency key of a call that is retried after a dropped connection. */
    readonly key: string | undefined,
    /** A stream's item handler. */
    readonly onItem: ((data: unknown) => void) | undefined,
    /**
     * Runs synchronously when the result arrives, before the promise settles: frames that
     * follow in the same chunk (a subscription's replayed events) are handled in the same
     * tick, before any promise continuation could run. Returning false refuses the output
     * as a protocol violation, which it has closed the connection for.
     */
    readonly onResult: ((output: unknown) => boolean | void) | undefined,
  ) {
    this.promise = new Promise<unknown>((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
  }
}

/** Pending calls of one client. */
export class RequestManager {
  readonly stats: ClientStats = { lateReplies: 0, retried: 0 }
  private nextId = 1
  private readonly pending = new PendingTable<Pending>()
  /** Requests waiting for the socket to open or to drain, in call order. */
  private queued: Pending[] = []
  private readonly deadlines = new DeadlineHeap<Pending>((call) => this.expire(call))
  /**
   * True while the queue is held back (subscriptions being restored after a reconnect):
   * new requests queue, and only requests sent `ahead` go out.
   */
  held = false
  /**
   * Why a request that was never sent could not be: its timeout then fails it with this error
   * (the connection's last failure) instead of a bare TIMEOUT. Undefined while nothing is known.
   */
  whyUnsent: () => PatchbayError | undefined = () => undefined

  constructor(
    private readonly defaultTimeout: number,
    /** Sends a message now; false when the socket is not open. */
    private readonly send: (message: Wire) => boolean,
    /** Requests that may wait for the socket to open or drain. */
    private readonly maxQueued = Infinity,
    /** False while the socket is above its high-water mark: requests wait (§14). */
    private readonly canSend: () => boolean = () => true,
    /** Told when a request had to wait for the socket to drain. */
    private readonly onBlocked: () => void = () => {},
    /** How deep what a request sends may nest, its envelope included (§9). */
    private readonly maxDepth: number = DEFAULT_LIMITS.maxDepth,
    /** Tracing hooks (instrumentation.ts); undefined costs one check per request. */
    private readonly instrumentation: ClientInstrumentation | undefined = undefined,
  ) {}

  /** Requests waiting to be sent. */
  get queuedCount(): number {
    return this.queued.length
  }

  /** Starts a call; sends it now if the socket is open, else queues it. */
  call(path: string, input: unknown, options: CallOptions | undefined, connected: boolean): Promise<unknown> {
    return this.request('call', callMessage, path, input, undefined, options, connected).promise
  }

  /** Starts any request; its id names a subscription later (`unsub`). */
  request(
    kind: RequestKind,
    message: MessageOf,
    path: string,
    input: unknown,
    data: unknown,
    options: CallOptions | undefined,
    connected: boolean,
    onItem?: (data: unknown) => void,
    onResult?: (output: unknown) => boolean | void,
    /** Sent at once, ahead of the queue and of a hold (a resubscription, §10). */
    ahead = false,
  ): { id: RequestId; promise: Promise<unknown> } {
    const signal = options?.signal
    if (signal?.aborted) {
      return { id: -1, promise: Promise.reject(new PatchbayError(CANCELLED, 'The call was aborted', { cause: signal.reason })) }
    }
    // Checked here, before anything is sent, so both encodings refuse the same inputs: JSON
    // would quietly send a Date as a string and NaN as null, where msgpack sends what the
    // server refuses (§9). One walk of what the caller passed, bounded by maxDepth.
    const problem = findNonPlainData(input, this.maxDepth, 1) ?? findNonPlainData(data, this.maxDepth, 1)
    if (problem !== undefined) {
      return { id: -1, promise: Promise.reject(new PatchbayError(BAD_REQUEST, `The input is not plain data: ${problem}`)) }
    }
    const mustWait = ahead ? !connected : !connected || this.held || this.queued.length > 0 || !this.canSend()
    if (mustWait && this.queued.length >= this.maxQueued) {
      const reason = connected ? 'for the socket to drain' : 'for a connection'
      return { id: -1, promise: Promise.reject(new PatchbayError(TOO_MANY_REQUESTS, `More than ${this.maxQueued} requests wait ${reason}`)) }
    }
    // Ids count up and never repeat within a client, so a late reply can never be taken for
    // a newer call's (§4.1).
    const id = this.nextId++
    const key = kind === 'call' && options?.idempotent === true ? nanoid() : undefined
    const call = new Pending(id, kind, message, path, input, data, key, onItem, onResult)
    call.signal = signal
    // Instrumentation names a request by what it asks for, not by its message type.
    call.scope = this.instrumentation?.request?.({ kind: kind === 'sub' ? 'subscribe' : kind === 'pub' ? 'publish' : kind, path })
    this.pending.set(call)
    const timeout = options?.timeout ?? this.defaultTimeout
    if (timeout > 0 && timeout !== Infinity) {
      // The clock itself, not turnNow(): a call made late in a long synchronous run would
      // otherwise get a deadline that lapsed before it was sent.
      call.deadline = Date.now() + timeout
      this.deadlines.add(call)
    }
    if (signal !== undefined) {
      call.onAbort = () => this.cancel(call, signal.reason)
      signal.addEventListener('abort', call.onAbort, { once: true })
    }
    if (!mustWait) this.transmit(call)
    else {
      this.queued.push(call)
      if (connected) this.onBlocked()
    }
    return call
  }

  /**
   * The socket opened or drained: send what was queued, in order, while it has room. Returns
   * true when nothing is left waiting.
   */
  flush(): boolean {
    if (this.held) return this.queued.length === 0
    let sent = 0
    while (sent < this.queued.length && this.canSend()) {
      const call = this.queued[sent++] as Pending
      if (this.pending.get(call.id) === call) this.transmit(call)
    }
    // transmit re-queues a call the socket refused (closed meanwhile): keep those at the end.
    this.queued = this.queued.slice(sent)
    return this.queued.length === 0
  }

  /** A result, error or stream item arrived. */
  handle(message: ServerMessage): void {
    if (message.t !== 'result' && message.t !== 'error' && message.t !== 'item') return
    const call = this.pending.get(message.id)
    if (call === undefined || !call.sent) {
      this.stats.lateReplies++
      return
    }
    if (message.t === 'item') {
      if (call.onItem === undefined) this.stats.lateReplies++
      else call.onItem(message.data)
      return
    }
    if (message.t === 'result') {
      // A refused output (a malformed sub result) closed the connection: the request stays
      // pending and fails with everything else the close fails.
      if (call.onResult?.(message.output) === false) return
      this.settle(call, undefined)
      call.resolve(message.output)
    } else {
      this.settle(call, message.error.code)
      call.reject(PatchbayError.fromWire(message.error))
    }
  }

  /** Holds the queue back until {@link release}. */
  hold(): void {
    this.held = true
  }

  /** Lets the queue go again; the caller flushes. */
  release(): void {
    this.held = false
  }

  /** Fails every call, sent or queued, with `code`. */
  failAll(code: string, message: string, options?: PatchbayErrorOptions): void {
    const calls = this.pending.values()
    this.queued = []
    this.held = false
    for (const call of calls) {
      this.settle(call, code)
      call.reject(new PatchbayError(code, message, options))
    }
  }

  /**
   * The connection dropped: calls already sent have an unknown outcome. Idempotent ones go back
   * to the front of the queue, to be sent again with their key; the others fail with `code`.
   * Queued ones stay queued.
   */
  failSent(code: string, message: string, options?: PatchbayErrorOptions): void {
    const retried: Pending[] = []
    for (const call of this.pending.values()) {
      if (!call.sent) continue
      if (call.key !== undefined) {
        call.sent = false
        retried.push(call)
        continue
      }
      this.settle(call, code)
      call.reject(new PatchbayError(code, message, options))
    }
    if (retried.length > 0) {
      this.stats.retried += retried.length
      this.queued = [...retried, ...this.queued]
    }
  }

  private transmit(call: Pending): void {
    const message = messageOf(call)
    let sent: boolean
    try {
      sent = this.send(message)
    } catch (error) {
      // The input would not encode (a BigInt, a cycle): the caller's mistake, reported to it.
      this.settle(call, BAD_REQUEST)
      call.reject(new PatchbayError(BAD_REQUEST, 'The input could not be encoded', { cause: error }))
      return
    }
    if (sent) call.sent = true
    else this.queued.push(call)
  }

  private expire(call: Pending): void {
    if (this.pending.get(call.id) !== call) return
    const unsent = call.sent ? undefined : this.whyUnsent()
    this.settle(call, unsent?.code ?? TIMEOUT)
    // Tell the server too, so the handler stops working for nobody (§5).
    if (call.sent) this.send([call.kind === 'sub' ? 8 : 4, call.id])
    call.reject(unsent ?? new PatchbayError(TIMEOUT, `No reply to "${call.path}" within the timeout`))
  }

  private cancel(call: Pending, reason: unknown): void {
    if (this.pending.get(call.id) !== call) return
    this.settle(call, CANCELLED)
    if (call.sent) this.send([call.kind === 'sub' ? 8 : 4, call.id])
    call.reject(new PatchbayError(CANCELLED, 'The call was aborted', { cause: reason }))
  }

  /** Forgets the call everywhere it is tracked; `code` is its error's, undefined on success. */
  private settle(call: Pending, code: string | undefined): void {
    // Cleared first: a scope ends once, even if its end() throws or settles again.
    const scope = call.scope
    call.scope = undefined
    scope?.end(code)
    if (!call.sent) {
      // A waiting request that ends (timeout, abort) gives its place in the queue back.
      const index = this.queued.indexOf(call)
      if (index !== -1) this.queued.splice(index, 1)
    }
    this.pending.delete(call)
    this.deadlines.remove(call)
    if (call.onAbort !== undefined) {
      call.signal?.removeEventListener('abort', call.onAbort)
      call.onAbort = undefined
    }
  }
}

function messageOf(call: Pending): Wire {
  const scope = call.scope
  let meta: Meta = null
  if (scope?.traceparent !== undefined) {
    // §4.3: the caller's trace context, for the server's span to join its trace.
    meta = { traceparent: scope.traceparent }
    if (scope.tracestate !== undefined) meta.tracestate = scope.tracestate
  }
  return call.message(call, meta)
}

/** A request without its payload (§3): `[tag, id, path, meta]`, or without the meta when it is null. */
export function requestHead(tag: number, id: RequestId, path: string, meta: Meta): Wire {
  return meta === null ? [tag, id, path] : [tag, id, path, meta]
}

/** A call's message (§4): `[1, id, path, meta, input?]`, its idempotency key in the meta. */
function callMessage({ id, path, input, key }: RequestFields, meta: Meta): Wire {
  if (key !== undefined) (meta ??= {}).key = key
  return input === undefined ? requestHead(1, id, path, meta) : [1, id, path, meta, input]
}
