import { DEFAULT_LIMITS, jsonCodec, type Codec, type Logger } from '@patchbay/core'
import type { ClientInstrumentation } from './instrumentation.js'
import { resolveLog, type ClientLog } from './logger.js'
import type { Diagnostics } from './node-diagnostics.js'

/**
 * The part of the WebSocket API the client uses: the browser's WebSocket and `ws` both
 * have it. Handlers take `never` so either implementation's event types fit.
 */
export interface WebSocketLike {
  readonly readyState: number
  readonly protocol: string
  readonly bufferedAmount: number
  binaryType: string
  onopen: ((event: never) => void) | null
  onmessage: ((event: never) => void) | null
  onclose: ((event: never) => void) | null
  onerror: ((event: never) => void) | null
  send(data: string | ArrayBufferView): void
  close(code?: number, reason?: string): void
}

/** A WebSocket class: `globalThis.WebSocket` in browsers, `ws`'s default export in Node. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike

/** Options of `createClient`. */
export interface ClientOptions {
  /** The server's WebSocket URL, for example `wss://example.com/ws`. */
  url: string
  /**
   * The WebSocket class. Node 20 has no global one: pass `ws` (`import WebSocket from 'ws'`).
   * @default globalThis.WebSocket
   */
  WebSocket?: WebSocketConstructor
  /**
   * Encodings to offer, most preferred first; the server takes the first it supports. `'json'`
   * names the JSON codec; MessagePack is offered by its codec, `msgpackCodec` from
   * `@patchbay/client/msgpack` (it needs the optional peer dependency `msgpackr`), so that a
   * JSON-only client installs and bundles no msgpackr (docs/guide/bundling.md).
   * @default ['json']
   */
  encodings?: readonly (Codec | 'json')[]
  /**
   * Default per-call timeout in milliseconds; 0 disables it. A call's own `timeout` wins.
   * @default 30_000
   */
  timeout?: number
  /**
   * Reconnect after a connection drops for a reason a retry can fix (see
   * `isRetryableClose`), with exponential backoff and full jitter; `false` never reconnects.
   * Calls in flight when it drops fail with CONNECTION_LOST; calls made while reconnecting
   * wait (up to `maxQueued`); topic subscriptions are made again on the new connection.
   * @default true
   */
  reconnect?: boolean | ReconnectOptions
  /**
   * Milliseconds a connection attempt may take, from opening the socket to the server's
   * answer to the upgrade (TCP, TLS and HTTP); 0 waits forever. An attempt that takes longer
   * (a route that accepts TCP and never answers) is dropped and counts as a failed attempt:
   * with `reconnect`, the next one follows after the usual backoff. The default matches the
   * server's `handshakeTimeout`.
   * @default 10_000
   */
  connectTimeout?: number
  /**
   * Milliseconds of silence from the server after which the client sends an application-level
   * ping to find out whether it is still there (browsers cannot send ping frames); 0
   * disables them. Counted from the last frame received, so a ping goes out exactly when
   * nothing has arrived for this long.
   * @default 15_000
   */
  pingInterval?: number
  /**
   * Milliseconds to wait for any frame after a ping before the server is taken for dead and
   * the connection dropped (and, with `reconnect`, made again). A silent server is therefore
   * noticed within `pingInterval + pongTimeout` of its last frame (20 s by default), before
   * a call's default 30 s `timeout`, so idempotent calls in flight are sent again in time.
   * @default 5_000
   */
  pongTimeout?: number
  /**
   * Requests (calls, publishes, subscriptions, streams) that may wait to be sent, for a
   * connection (while connecting or reconnecting) or for the socket to drain; more fail at
   * once with TOO_MANY_REQUESTS rather than grow the queue.
   * @default 1000
   */
  maxQueued?: number
  /**
   * Bytes the socket may buffer (`bufferedAmount`) before further requests wait in the
   * queue; they go out as it drains, checked every few milliseconds only while one waits.
   * @default 1_048_576 (1 MiB)
   */
  highWaterMark?: number
  /**
   * A credential for the server's `context` hook, sent as an extra subprotocol
   * (`patchbay.auth.<base64url>`; browsers cannot set headers, and a URL's query string ends
   * up in access logs). A function is called before every connection, so a reconnect
   * presents a fresh token; then a 4401 close (credentials expired) is retried too.
   * @default none
   */
  token?: string | (() => string | Promise<string>)
  /**
   * Connect on first use (a call, a subscription, a stream, or `connect()`) rather than at
   * once; the state is `idle` until then.
   * @default false
   */
  lazy?: boolean
  /**
   * Deepest nesting allowed in what the client sends (a deeper input fails with BAD_REQUEST
   * before it is sent, as does one that is not plain data: a Date, a Map, NaN, a BigInt) and
   * accepted in a server's `error` message; payloads are handed over as decoded
   * (docs/protocol.md §9).
   * @default 64 (DEFAULT_LIMITS.maxDepth)
   */
  maxDepth?: number
  /**
   * Where the client logs (docs/guide/logging.md): pino's shape, so a pino logger (or pino's
   * browser build) is passed as it is, and its methods are called as they are (a pino level
   * changed later holds); `false` logs nothing. Never logs the token or a call's input.
   * @default the console, errors and warnings only (a listener's exception, a protocol
   * violation, the end of a client that gave up)
   */
  logger?: Logger | false
  /**
   * Hooks that tracing hears the client through, and that carry the caller's trace context
   * to the server (docs/protocol.md §4.3): `clientTelemetry()` of `@patchbay/otel`, or your
   * own (docs/guide/observability.md). Without it no hook runs.
   * @default none
   */
  instrumentation?: ClientInstrumentation
}

/** How the client reconnects. */
export interface ReconnectOptions {
  /**
   * Consecutive failed attempts before giving up (state `closed`). The default never gives
   * up on a retryable close: the backoff is capped at `maxRetryDelay`, so a client rides out
   * a deploy or an outage of any length, costing one attempt per ~`maxRetryDelay / 2` on
   * average, until `close()`. A finite number ends the client after that many retries in a
   * row (a connection that stays up for `stableAfter` resets the count).
   * @default Infinity
   */
  retries?: number
  /** Base of the exponential backoff, in milliseconds. @default 250 */
  retryDelay?: number
  /** Cap of the backoff, in milliseconds. @default 10_000 */
  maxRetryDelay?: number
  /** A connection open this long resets the backoff, in milliseconds. @default 5_000 */
  stableAfter?: number
}

/** Options with every default filled in. */
export interface ResolvedClientOptions {
  url: string
  WebSocket: WebSocketConstructor
  /** The codecs offered, in order. */
  codecs: readonly Codec[]
  timeout: number
  maxDepth: number
  reconnect: Required<ReconnectOptions> | undefined
  maxQueued: number
  highWaterMark: number
  token: string | (() => string | Promise<string>) | undefined
  lazy: boolean
  connectTimeout: number
  pingInterval: number
  pongTimeout: number
  /** The `logger` option, level by level (logger.ts). */
  log: ClientLog
  /** What the runtime can tell of a failed connection (Node's `ws`), when the entry brings it (features.ts). */
  diagnostics?: Diagnostics | undefined
}

/** Fills in defaults and checks the options. */
export function resolveClientOptions(options: ClientOptions): ResolvedClientOptions {
  const WebSocketClass = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (WebSocketClass === undefined) {
    throw new TypeError('No global WebSocket: in Node, pass the `ws` class as the WebSocket option')
  }
  const codecs = (options.encodings ?? [jsonCodec]).map(codecOf)
  if (codecs.length === 0) throw new TypeError('encodings must name at least one encoding')
  const timeout = options.timeout ?? 30_000
  if (!(timeout >= 0)) throw new RangeError('timeout must be a non-negative number of milliseconds')
  const reconnect =
    options.reconnect === false
      ? undefined
      : {
          retries: Number.POSITIVE_INFINITY,
          retryDelay: 250,
          maxRetryDelay: 10_000,
          stableAfter: 5_000,
          ...(options.reconnect === true || options.reconnect === undefined ? {} : options.reconnect),
        }
  return {
    url: options.url,
    WebSocket: WebSocketClass,
    codecs,
    timeout,
    maxDepth: options.maxDepth ?? DEFAULT_LIMITS.maxDepth,
    reconnect,
    maxQueued: options.maxQueued ?? 1000,
    token: options.token,
    lazy: options.lazy === true,
    highWaterMark: positive(options.highWaterMark ?? 1_048_576, 'highWaterMark'),
    connectTimeout: nonNegative(options.connectTimeout ?? 10_000, 'connectTimeout'),
    pingInterval: options.pingInterval ?? 15_000,
    pongTimeout: options.pongTimeout ?? 5_000,
    log: resolveLog(options.logger),
  }
}

/**
 * The codec an `encodings` entry names. Only JSON is known by name, so that no client imports
 * msgpackr unless its code passes msgpack's codec. (From JavaScript, 'msgpack' by name gets
 * here; TypeScript refuses it.)
 */
function codecOf(encoding: Codec | 'json'): Codec {
  if (typeof encoding === 'object') return encoding
  if (encoding === 'json') return jsonCodec
  if ((encoding as string) === 'msgpack') {
    throw new TypeError("'msgpack' is offered by its codec: import { msgpackCodec } from '@patchbay/client/msgpack' (npm install msgpackr), then encodings: [msgpackCodec, 'json']")
  }
  throw new TypeError(`unknown encoding "${String(encoding)}"`)
}

function nonNegative(value: number, name: string): number {
  if (!(value >= 0)) throw new RangeError(`${name} must be a non-negative number of milliseconds`)
  return value
}

function positive(value: number, name: string): number {
  if (!(value > 0)) throw new RangeError(`${name} must be a positive number`)
  return value
}
