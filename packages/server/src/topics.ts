/**
 * Topic requests of one session (sub, unsub, pub), runtime-free: resolve the topic, validate
 * params and data, ask the topic's authorize hook, then register with the PubSub registry.
 */
import { toWireError } from './dispatch.js'
import { runChain, type AnyMiddleware, type ChainRequest } from './middleware.js'
import {
  ErrorCode,
  PatchbayError,
  channelOf,
  findNonPlainData,
  validate,
  type AnyTopic,
  type Limits,
  type ValidationResult,
  type WireError,
} from '@patchbay/core'
import type { Delivery } from './outbound.js'
import type { PubSub, Retention } from './pubsub.js'
import type { ConnectionInfo, ErrorInfo } from './types.js'

/** A topic with the server's options for it. */
export interface TopicRoute {
  readonly topic: AnyTopic
  readonly path: string
  /** Who may publish: the server's option, else the router's. */
  readonly publish: 'server' | 'client'
  /** Backpressure policy and high-water mark for its subscribers (§14). */
  readonly delivery: Delivery
  /** History kept per channel for resuming subscribers (§12.1). */
  readonly retention: Retention
  readonly authorize: ((options: { params: unknown; ctx: unknown; connection: ConnectionInfo }) => boolean | Promise<boolean>) | undefined
  readonly authorizePublish: ((options: { params: unknown; data: unknown; ctx: unknown; connection: ConnectionInfo }) => boolean | Promise<boolean>) | undefined
  /** The middleware around subscribe and publish, outer first; undefined (never empty) when none. */
  readonly middleware: readonly AnyMiddleware[] | undefined
  /** 'connection': every connection subscribes to a channel of its own (`server.publishTo`). */
  readonly scope: TopicScope
}

/** Whether a topic's channels are shared by their subscribers or private to each connection. */
export type TopicScope = 'shared' | 'connection'

/** The channel of connection `connectionId` in a per-connection topic (no params name ends with `#`). */
export function connectionChannel(channel: string, connectionId: string): string {
  return `${channel}#${connectionId}`
}

/** What topic handling needs from the server. */
export interface TopicsConfig {
  readonly topics: ReadonlyMap<string, TopicRoute>
  readonly pubsub: PubSub
  readonly limits: Limits
  readonly exposeErrors: boolean
  readonly onError: ((error: unknown, info: ErrorInfo) => void) | undefined
}

/** The outcome of a topic request: a channel to join (sub) or a publish done, or an error. */
export type TopicOutcome =
  | { ok: true; channel: string; params: unknown; data?: unknown; delivery?: Delivery; retention?: Retention }
  | { ok: false; error: WireError }

function fail(code: string, message: string): TopicOutcome {
  return { ok: false, error: { code, message } }
}

function then<T, R>(value: T | Promise<T>, next: (value: T) => R | Promise<R>): R | Promise<R> {
  return value instanceof Promise ? value.then(next) : next(value)
}

/** Runs `step`, turning anything it throws or rejects with into the error the client sees. */
function guarded(config: TopicsConfig, info: ErrorInfo, step: () => TopicOutcome | Promise<TopicOutcome>): TopicOutcome | Promise<TopicOutcome> {
  const failure = (error: unknown): TopicOutcome => ({ ok: false, error: toWireError(config, error, info) })
  try {
    const outcome = step()
    return outcome instanceof Promise ? outcome.catch(failure) : outcome
  } catch (error) {
    return failure(error)
  }
}

/**
 * Why a message that passed its schema still cannot be published, or undefined: the schema
 * may have made something other than plain data of it (a Date), which every subscriber would
 * have to refuse (§9). One check for `server.publish` and a client's `pub`.
 */
export function unpublishable(route: TopicRoute, value: unknown, limits: Limits): WireError | undefined {
  const problem = findNonPlainData(value, limits.maxDepth, 1)
  return problem === undefined ? undefined : { code: ErrorCode.BAD_REQUEST, message: `Message for "${route.path}" is not plain data: ${problem}` }
}

/** Validates topic params into a channel name (sync when the schema is). */
export function resolveChannel(route: TopicRoute, params: unknown, limits: Limits): TopicOutcome | Promise<TopicOutcome> {
  const schema = route.topic.params
  if (schema === undefined) {
    if (params !== undefined && params !== null) return fail(ErrorCode.BAD_REQUEST, 'This topic takes no params')
    return { ok: true, channel: route.path, params: undefined, retention: route.retention }
  }
  return then(validate(schema, params), (checked: ValidationResult<unknown>): TopicOutcome => {
    if (!checked.ok) return { ok: false, error: { code: ErrorCode.BAD_REQUEST, message: 'Params failed validation', issues: checked.issues } }
    const channel = channelOf(route.path, checked.value)
    if (channel.length - route.path.length - 1 > limits.maxParamsLength) {
      return fail(ErrorCode.BAD_REQUEST, `Params longer than ${limits.maxParamsLength} characters`)
    }
    return { ok: true, channel, params: checked.value, retention: route.retention }
  })
}

/** Runs a sub request up to (not including) registration. */
export function prepareSubscribe(
  config: TopicsConfig,
  path: string,
  params: unknown,
  ctx: unknown,
  connection: ConnectionInfo,
  abort: ChainRequest['abort'],
): TopicOutcome | Promise<TopicOutcome> {
  const route = config.topics.get(path)
  if (route === undefined) return fail(ErrorCode.NOT_FOUND, `No topic at "${path}"`)
  return guarded(config, { path, connectionId: connection.id }, () =>
    then(resolveChannel(route, params, config.limits), (resolved) => {
      if (!resolved.ok) return resolved
      const own: TopicOutcome = route.scope === 'connection' ? { ...resolved, channel: connectionChannel(resolved.channel, connection.id) } : resolved
      if (route.middleware !== undefined) {
        const request = { kind: 'subscribe', path, input: resolved.params, data: undefined, connection, abort } as const
        return runChain(route.middleware, request, ctx, (innerCtx) =>
          then(route.authorize === undefined || route.authorize({ params: resolved.params, ctx: innerCtx, connection }), (allowed) => {
            // Thrown, not returned: a middleware sees the refusal come out of next().
            if (allowed !== true) throw new PatchbayError(ErrorCode.FORBIDDEN, `Not allowed to subscribe to "${path}"`)
          }),
        ).then(() => own)
      }
      if (route.authorize === undefined) return own
      return then(route.authorize({ params: resolved.params, ctx, connection }), (allowed): TopicOutcome =>
        allowed === true ? own : fail(ErrorCode.FORBIDDEN, `Not allowed to subscribe to "${path}"`),
      )
    }),
  )
}

/** Runs a client's pub request up to (not including) the publish itself. */
export function preparePublish(
  config: TopicsConfig,
  path: string,
  params: unknown,
  data: unknown,
  ctx: unknown,
  connection: ConnectionInfo,
  abort: ChainRequest['abort'],
): TopicOutcome | Promise<TopicOutcome> {
  const route = config.topics.get(path)
  if (route === undefined) return fail(ErrorCode.NOT_FOUND, `No topic at "${path}"`)
  if (route.publish !== 'client') return fail(ErrorCode.FORBIDDEN, `Clients may not publish to "${path}"`)
  return guarded(config, { path, connectionId: connection.id }, () =>
    then(resolveChannel(route, params, config.limits), (resolved) => {
      if (!resolved.ok) return resolved
      return then(validate(route.topic.message, data), (checked: ValidationResult<unknown>) => {
        if (!checked.ok) return { ok: false, error: { code: ErrorCode.BAD_REQUEST, message: 'Message failed validation', issues: checked.issues } } as TopicOutcome
        const refused = unpublishable(route, checked.value, config.limits)
        if (refused !== undefined) return { ok: false, error: refused }
        const authorize = route.authorizePublish
        const accepted: TopicOutcome = { ok: true, channel: resolved.channel, params: resolved.params, data: checked.value, delivery: route.delivery }
        if (route.middleware !== undefined) {
          const request = { kind: 'publish', path, input: resolved.params, data: checked.value, connection, abort } as const
          return runChain(route.middleware, request, ctx, (innerCtx) =>
            then(authorize === undefined || authorize({ params: resolved.params, data: checked.value, ctx: innerCtx, connection }), (allowed) => {
              if (allowed !== true) throw new PatchbayError(ErrorCode.FORBIDDEN, `Not allowed to publish to "${path}"`)
            }),
          ).then(() => accepted)
        }
        if (authorize === undefined) return accepted
        return then(authorize({ params: resolved.params, data: checked.value, ctx, connection }), (allowed): TopicOutcome =>
          allowed === true ? accepted : fail(ErrorCode.FORBIDDEN, `Not allowed to publish to "${path}"`),
        )
      })
    }),
  )
}
