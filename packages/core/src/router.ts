/**
 * The shared router: a tree of procedures, written once and imported by server and client.
 * It holds schemas only, no handlers, so it is safe to bundle for the browser.
 */
import { isSchema, type InferSchemaInput, type InferSchemaOutput, type Schema } from './schema.js'

/**
 * A request/response procedure. `I` is undefined for a procedure that takes no input. `D` is
 * `idempotent` as written (`true` or `false`), so a client's router shape can be checked
 * against it (docs/guide/bundling.md).
 */
export interface Procedure<I extends Schema | undefined = Schema | undefined, O extends Schema = Schema, D extends boolean = boolean> {
  readonly kind: 'procedure'
  readonly input: I
  readonly output: O
  /**
   * Calls may run more than once without harm, so the client retries them after a dropped
   * connection with the same idempotency key, and the server runs each key once (§4.2).
   */
  readonly idempotent: D
}

/** A procedure without its exact types, for code that walks any router. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- variance: any procedure
export type AnyProcedure = Procedure<any, any>

/**
 * A stream procedure: the server's handler is an async generator, the client iterates its
 * items with `for await`. Flow-controlled by credit (docs/protocol.md §15).
 */
export interface Stream<I extends Schema | undefined = Schema | undefined, O extends Schema = Schema> {
  readonly kind: 'stream'
  readonly input: I
  /** Describes one item; every item is validated against it on the server. */
  readonly output: O
}

/** A stream without its exact types. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- variance: any stream
export type AnyStream = Stream<any, any>

/** A router definition: procedures, streams, topics and nested routers by name. */
export interface RouterDef {
  readonly [name: string]: AnyProcedure | AnyStream | AnyTopic | RouterDef
}

/** Options of {@link procedure}. */
export interface ProcedureOptions<I extends Schema | undefined, O extends Schema> {
  /** Validates what the caller sends; omitted for a procedure without input. */
  input?: I
  /** Describes what the handler returns (validated on the server if `validateOutput` is on). */
  output: O
  /**
   * Retry calls after a dropped connection, executed once on the server (§4.2).
   * @default false
   */
  idempotent?: boolean
}

/** Defines a procedure that takes no input. */
export function procedure<O extends Schema, const D extends boolean = false>(options: { output: O; idempotent?: D }): Procedure<undefined, O, NoInfer<D>>
/** Defines a procedure from its input and output schemas. */
export function procedure<I extends Schema, O extends Schema, const D extends boolean = false>(options: { input: I; output: O; idempotent?: D }): Procedure<I, O, NoInfer<D>>
export function procedure(options: ProcedureOptions<Schema | undefined, Schema>): AnyProcedure {
  checkSchemas('procedure', options)
  return Object.freeze({ kind: 'procedure', input: options.input, output: options.output, idempotent: options.idempotent === true })
}

/** Throws unless `input` (optional) and `output` are Standard Schemas. */
function checkSchemas(kind: 'procedure' | 'stream', options: ProcedureOptions<Schema | undefined, Schema>): void {
  if (options.input !== undefined && !isSchema(options.input)) throw new TypeError(`${kind} input must be a Standard Schema (for example a zod schema)`)
  if (!isSchema(options.output)) throw new TypeError(`${kind} output must be a Standard Schema (for example a zod schema)`)
}

/** Defines a stream that takes no input. */
export function stream<O extends Schema>(options: { output: O }): Stream<undefined, O>
/** Defines a stream from its input schema and the schema of one item. */
export function stream<I extends Schema, O extends Schema>(options: { input: I; output: O }): Stream<I, O>
export function stream(options: ProcedureOptions<Schema | undefined, Schema>): AnyStream {
  checkSchemas('stream', options)
  return Object.freeze({ kind: 'stream', input: options.input, output: options.output })
}

/**
 * What a topic does with a message for a subscriber whose connection is above its outbound
 * high-water mark (docs/protocol.md §14):
 * - `queue`: send it anyway, up to the connection's hard limit (then close 4507);
 * - `latest`: keep only the newest per channel and send it once the connection drains;
 * - `drop`: drop it, count it, and send a `lag` notice once the connection drains;
 * - `close`: close the connection with 4507.
 */
export type BackpressurePolicy = 'queue' | 'latest' | 'drop' | 'close'

const POLICIES = new Set<string>(['queue', 'latest', 'drop', 'close'])

/** Who may publish to a topic: only the server, or clients too (validated and authorized like a call). */
export type PublishPolicy = 'server' | 'client'

/** A typed, parameterised pub/sub topic. */
export interface Topic<P extends Schema | undefined = Schema | undefined, M extends Schema = Schema> {
  readonly kind: 'topic'
  readonly params: P
  readonly message: M
  /** Who may publish by default; the server's options may narrow it. */
  readonly publish: PublishPolicy
  /** What to do for a subscriber that reads too slowly; the server's options may override it. */
  readonly backpressure: BackpressurePolicy
}

/** A topic without its exact types. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- variance: any topic
export type AnyTopic = Topic<any, any>

/** Defines a topic without parameters. */
export function topic<M extends Schema>(options: { message: M; publish?: PublishPolicy; backpressure?: BackpressurePolicy }): Topic<undefined, M>
/** Defines a topic whose channels are told apart by `params` (a room, a symbol, a user id). */
export function topic<P extends Schema, M extends Schema>(options: {
  params: P
  message: M
  publish?: PublishPolicy
  backpressure?: BackpressurePolicy
}): Topic<P, M>
export function topic(options: { params?: Schema; message: Schema; publish?: PublishPolicy; backpressure?: BackpressurePolicy }): AnyTopic {
  if (options.params !== undefined && !isSchema(options.params)) throw new TypeError('topic params must be a Standard Schema')
  if (!isSchema(options.message)) throw new TypeError('topic message must be a Standard Schema')
  const publish = options.publish ?? 'server'
  if (publish !== 'server' && publish !== 'client') throw new TypeError('topic publish must be "server" or "client"')
  const backpressure = options.backpressure ?? 'queue'
  if (!isBackpressurePolicy(backpressure)) throw new TypeError('topic backpressure must be "queue", "latest", "drop" or "close"')
  return Object.freeze({ kind: 'topic', params: options.params, message: options.message, publish, backpressure })
}

/** True for one of the four {@link BackpressurePolicy} names. */
export function isBackpressurePolicy(value: unknown): value is BackpressurePolicy {
  return typeof value === 'string' && POLICIES.has(value)
}

function hasKind(value: unknown, kind: string): boolean {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === kind
}

/** True for a topic definition. */
export function isTopic(value: unknown): value is AnyTopic {
  return hasKind(value, 'topic')
}

/** True for a stream definition. */
export function isStream(value: unknown): value is AnyStream {
  return hasKind(value, 'stream')
}

/** True for a procedure definition. */
export function isProcedure(value: unknown): value is AnyProcedure {
  return hasKind(value, 'procedure')
}

/**
 * Names a client reserves at the top level (its own methods and properties), and names that
 * would make the proxy look like a thenable or reach `Object.prototype`.
 */
export const RESERVED_TOP_LEVEL_NAMES = [
  'close',
  'connect',
  'state',
  'on',
  'encoding',
  'bufferedAmount',
  'drained',
  'stats',
] as const

const NAME_PATTERN = /^[A-Za-z_$][\w$]*$/
const FORBIDDEN_NAMES = new Set<string>(['then', ...Object.getOwnPropertyNames(Object.prototype)])
const RESERVED = new Set<string>(RESERVED_TOP_LEVEL_NAMES)

/** Reserved top-level names are rejected by the type too, not only at run time. */
export type ValidRouterDef<T> = T & { readonly [K in (typeof RESERVED_TOP_LEVEL_NAMES)[number]]?: never }

/** Every endpoint of a router by dotted path, split by kind. */
export interface FlatRouter {
  readonly procedures: ReadonlyMap<string, AnyProcedure>
  readonly streams: ReadonlyMap<string, AnyStream>
  readonly topics: ReadonlyMap<string, AnyTopic>
  /** The path of each topic object, for `server.publish(api.chat.room, …)`. */
  readonly topicPaths: ReadonlyMap<AnyTopic, string>
}

const flatCache = new WeakMap<RouterDef, FlatRouter>()

/**
 * Defines a router. Names must be identifiers, none may shadow `Object.prototype` or `then`,
 * and top-level names may not be one of {@link RESERVED_TOP_LEVEL_NAMES}.
 */
export function router<const T extends RouterDef>(def: ValidRouterDef<T>): T {
  const frozen = Object.freeze(def) as T
  flatCache.set(frozen, build(frozen))
  return frozen
}

function build(def: RouterDef): FlatRouter {
  const flat = { procedures: new Map<string, AnyProcedure>(), streams: new Map<string, AnyStream>(), topics: new Map<string, AnyTopic>(), topicPaths: new Map<AnyTopic, string>() }
  collect(def, '', flat)
  return flat
}

function collect(
  def: RouterDef,
  prefix: string,
  into: { procedures: Map<string, AnyProcedure>; streams: Map<string, AnyStream>; topics: Map<string, AnyTopic>; topicPaths: Map<AnyTopic, string> },
): void {
  if (typeof def !== 'object' || def === null) throw new TypeError(`router${prefix ? ` at "${prefix}"` : ''} must be an object`)
  for (const name of Object.keys(def)) {
    const path = prefix === '' ? name : `${prefix}.${name}`
    if (!NAME_PATTERN.test(name) || FORBIDDEN_NAMES.has(name)) {
      throw new TypeError(`invalid router name "${path}": use an identifier that is not an Object.prototype member or "then"`)
    }
    if (prefix === '' && RESERVED.has(name)) {
      throw new TypeError(`router name "${name}" is reserved by the client at the top level`)
    }
    const entry = def[name]
    if (isProcedure(entry)) into.procedures.set(path, entry)
    else if (isStream(entry)) into.streams.set(path, entry)
    else if (isTopic(entry)) {
      into.topics.set(path, entry)
      into.topicPaths.set(entry, path)
    } else collect(entry as RouterDef, path, into)
  }
}

/**
 * Every procedure of a router by its dotted path. Lookups go through a Map, never through
 * property access, so a path such as `__proto__` or `constructor` simply finds nothing.
 */
export function flattenRouter(def: RouterDef): ReadonlyMap<string, AnyProcedure> {
  return flatRouter(def).procedures
}

/** Procedures and topics of a router by dotted path (Map lookups only, see flattenRouter). */
export function flatRouter(def: RouterDef): FlatRouter {
  let flat = flatCache.get(def)
  if (flat === undefined) {
    flat = build(def)
    flatCache.set(def, flat)
  }
  return flat
}

/** What a caller passes for an optional schema `S` (undefined without one). */
type InputOf<S> = S extends Schema ? InferSchemaInput<S> : undefined
/** What a handler sees for an optional schema `S`: its parsed output (undefined without one). */
type ParsedOf<S> = S extends Schema ? InferSchemaOutput<S> : undefined

/** The type a caller passes to procedure `P`. */
export type InferProcedureInput<P> = P extends Procedure<infer I, Schema> ? InputOf<I> : never
/** The type a handler of procedure `P` receives. */
export type InferProcedureParsedInput<P> = P extends Procedure<infer I, Schema> ? ParsedOf<I> : never
/** The type a handler of `P` returns (the output schema's input). */
export type InferProcedureHandlerOutput<P> = P extends Procedure<Schema | undefined, infer O> ? InferSchemaInput<O> : never
/** The type a caller of `P` receives. */
export type InferProcedureOutput<P> = P extends Procedure<Schema | undefined, infer O> ? InferSchemaOutput<O> : never

/** The input a caller passes to stream `S`. */
export type InferStreamInput<S> = S extends Stream<infer I, Schema> ? InputOf<I> : never
/** The input a stream's handler receives. */
export type InferStreamParsedInput<S> = S extends Stream<infer I, Schema> ? ParsedOf<I> : never
/** What the handler of stream `S` yields (the item schema's input). */
export type InferStreamHandlerItem<S> = S extends Stream<Schema | undefined, infer O> ? InferSchemaInput<O> : never
/** What a consumer of stream `S` receives per item. */
export type InferStreamItem<S> = S extends Stream<Schema | undefined, infer O> ? InferSchemaOutput<O> : never

/** The params a subscriber or publisher passes for topic `T` (undefined without params). */
export type InferTopicParams<T> = T extends Topic<infer P, Schema> ? InputOf<P> : never
/** The params an `authorize` hook sees (the schema's output). */
export type InferTopicParsedParams<T> = T extends Topic<infer P, Schema> ? ParsedOf<P> : never
/** What a publisher passes for topic `T`. */
export type InferTopicMessageInput<T> = T extends Topic<Schema | undefined, infer M> ? InferSchemaInput<M> : never
/** What a subscriber of topic `T` receives. */
export type InferTopicMessage<T> = T extends Topic<Schema | undefined, infer M> ? InferSchemaOutput<M> : never

/** The inputs of every procedure and stream of a router, as a tree of the same shape. */
export type inferRouterInputs<R extends RouterDef> = {
  [K in keyof R as R[K] extends AnyTopic ? never : K]: R[K] extends AnyProcedure | AnyStream
    ? InputOf<R[K]['input']>
    : R[K] extends RouterDef
      ? inferRouterInputs<R[K]>
      : never
}
/** The outputs of every procedure (for a stream: one item) of a router, as a tree of the same shape. */
export type inferRouterOutputs<R extends RouterDef> = {
  [K in keyof R as R[K] extends AnyTopic ? never : K]: R[K] extends AnyProcedure | AnyStream
    ? InferSchemaOutput<R[K]['output']>
    : R[K] extends RouterDef
      ? inferRouterOutputs<R[K]>
      : never
}
