/**
 * TanStack Query options for the procedures of a typed client: `pb.math.add.queryOptions(input)`
 * for useQuery, useSuspenseQuery, prefetchQuery…; `pb.chat.send.mutationOptions()` for
 * useMutation. Keys are derived from the procedure's path and input; TanStack's AbortSignal is
 * the call's signal, so a query nobody observes any more is cancelled on the server.
 */
import type { AnyProcedure, AnyStream, AnyTopic, InferProcedureInput, InferProcedureOutput, PatchbayError, RouterDef } from '@patchbay/core'
import { endpointOf, type CallOptions, type Client } from '@patchbay/client'
import { Handoff } from './handoff.js'
import type { DataTag, QueryFunction, UseMutationOptions, UseQueryOptions } from '@tanstack/react-query'

/** The first element of every Patchbay key, so `['patchbay']` matches all of them. */
export const QUERY_KEY_ROOT = 'patchbay'

/** The key of a procedure's query: `['patchbay', 'math.add', input]`. */
export type PatchbayQueryKey<Path extends string, Input> = readonly [typeof QUERY_KEY_ROOT, Path, Input]

/** The key of a procedure regardless of input (a prefix of its query keys), and of its mutations. */
export type PatchbayPathKey<Path extends string> = readonly [typeof QUERY_KEY_ROOT, Path]

/** Options of a call made by TanStack Query; the signal is TanStack's. */
export type QueryCallOptions = Omit<CallOptions, 'signal'>

/** What queryOptions takes beside the input: TanStack's query options, and the call's own. */
export type ProcedureQueryInit<TOutput, TData, TKey extends readonly unknown[]> = Omit<UseQueryOptions<TOutput, PatchbayError, TData, TKey>, 'queryKey' | 'queryFn'> & {
  /** Options of each call (timeout, idempotent). */
  call?: QueryCallOptions
}

/** What queryOptions returns: ready for useQuery, with a key tagged with its data and error types. */
export type ProcedureQueryOptions<TOutput, TData, TKey extends readonly unknown[]> = Omit<UseQueryOptions<TOutput, PatchbayError, TData, TKey>, 'queryKey' | 'queryFn'> & {
  queryKey: DataTag<TKey, TOutput, PatchbayError>
  queryFn: QueryFunction<TOutput, TKey>
}

/** What mutationOptions takes: TanStack's mutation options, and the call's own. */
export type ProcedureMutationInit<TOutput, TVariables, TContext> = Omit<UseMutationOptions<TOutput, PatchbayError, TVariables, TContext>, 'mutationKey' | 'mutationFn'> & {
  /** Options of each call (timeout, idempotent). */
  call?: QueryCallOptions
}

/** What mutationOptions returns: ready for useMutation. */
export type ProcedureMutationOptions<TOutput, TVariables, TContext, Path extends string> = Omit<
  UseMutationOptions<TOutput, PatchbayError, TVariables, TContext>,
  'mutationKey' | 'mutationFn'
> & {
  mutationKey: PatchbayPathKey<Path>
  mutationFn: (variables: TVariables) => Promise<TOutput>
}

/** A procedure's variables in useMutation: `mutate()` with nothing for a procedure without input. */
type MutationVariables<I> = undefined extends I ? I | void : I

/** The input argument: optional for procedures that take none. */
type InputArgs<I, Rest extends unknown[]> = undefined extends I ? [input?: I, ...rest: Rest] : [input: I, ...rest: Rest]

/** The TanStack Query side of one procedure. */
export interface ProcedureQuery<P extends AnyProcedure, Path extends string> {
  /** `['patchbay', path, input]`: the key queryOptions uses, tagged for `getQueryData`. */
  queryKey(
    ...args: InputArgs<InferProcedureInput<P>, []>
  ): DataTag<PatchbayQueryKey<Path, InferProcedureInput<P>>, InferProcedureOutput<P>, PatchbayError>
  /** `['patchbay', path]`: matches this procedure's queries for every input (invalidateQueries). */
  pathKey(): PatchbayPathKey<Path>
  /** Options for useQuery and friends: key from path and input, the call as queryFn with TanStack's signal. */
  queryOptions<TData = InferProcedureOutput<P>>(
    ...args: InputArgs<InferProcedureInput<P>, [init?: ProcedureQueryInit<InferProcedureOutput<P>, TData, PatchbayQueryKey<Path, InferProcedureInput<P>>>]>
  ): ProcedureQueryOptions<InferProcedureOutput<P>, TData, PatchbayQueryKey<Path, InferProcedureInput<P>>>
  /** Options for useMutation: the variables are the procedure's input; the key is `pathKey()`. */
  mutationOptions<TContext = unknown>(
    init?: ProcedureMutationInit<InferProcedureOutput<P>, MutationVariables<InferProcedureInput<P>>, TContext>,
  ): ProcedureMutationOptions<InferProcedureOutput<P>, MutationVariables<InferProcedureInput<P>>, TContext, Path>
}

type Join<Prefix extends string, Name extends string> = Prefix extends '' ? Name : `${Prefix}.${Name}`

/** The router's procedures, in its shape, each with its TanStack Query options (streams and topics have hooks instead). */
export type PatchbayQuery<R extends RouterDef, Prefix extends string = ''> = {
  readonly [K in keyof R & string as R[K] extends AnyStream | AnyTopic ? never : K]: R[K] extends AnyProcedure
    ? ProcedureQuery<R[K], Join<Prefix, K>>
    : R[K] extends RouterDef
      ? PatchbayQuery<R[K], Join<Prefix, K>>
      : never
}

type Call = (input: unknown, options?: CallOptions) => Promise<unknown>

function procedureQuery(call: Call, path: string): ProcedureQuery<AnyProcedure, string> {
  const handoff = new Handoff(call)
  const pathKey = (): PatchbayPathKey<string> => [QUERY_KEY_ROOT, path]
  const queryKey = (input?: unknown) => [QUERY_KEY_ROOT, path, input] as unknown as DataTag<PatchbayQueryKey<string, unknown>, unknown, PatchbayError>
  return Object.freeze({
    queryKey,
    pathKey,
    queryOptions(input?: unknown, init: ProcedureQueryInit<unknown, unknown, PatchbayQueryKey<string, unknown>> = {}) {
      const { call: callOptions, ...rest } = init
      return {
        ...rest,
        queryKey: queryKey(input),
        // Reading `signal` is what tells TanStack the query can be aborted: when its last
        // observer leaves mid-call it aborts, and the client sends `cancel` (§4.1).
        queryFn: ({ signal }: { signal: AbortSignal }) => handoff.run(input, callOptions, signal),
      }
    },
    mutationOptions(init: ProcedureMutationInit<unknown, unknown, unknown> = {}) {
      const { call: callOptions, ...rest } = init
      return { ...rest, mutationKey: pathKey(), mutationFn: (variables: unknown) => call(variables, callOptions) }
    },
  }) as unknown as ProcedureQuery<AnyProcedure, string>
}

/**
 * A node of the tree, made on first access. Procedures carry their path (the client's
 * `endpointOf`); objects that carry nothing are nested routers. Streams, topics, the client's
 * own members (`state`, `close`…) and unknown names are undefined; `then` is never defined, so
 * a node is never mistaken for a promise.
 */
function routerNode(target: Record<string, unknown>): object {
  const children = new Map<string, unknown>()
  return new Proxy(Object.create(null) as object, {
    get(_, name) {
      if (typeof name !== 'string' || name === 'then' || !Object.hasOwn(target, name)) return undefined
      if (children.has(name)) return children.get(name)
      const descriptor = Object.getOwnPropertyDescriptor(target, name)
      // The client's getters (state, stats…) are not read: only plain values can be endpoints.
      const value: unknown = descriptor?.get === undefined ? descriptor?.value : undefined
      const endpoint = endpointOf(value)
      let child: unknown
      if (endpoint?.kind === 'procedure') child = procedureQuery(value as Call, endpoint.path)
      else if (endpoint === undefined && typeof value === 'object' && value !== null) child = routerNode(value as Record<string, unknown>)
      children.set(name, child)
      return child
    },
  })
}

/**
 * TanStack Query options for every procedure of `client`, in the router's shape.
 *
 * ```ts
 * const pb = createPatchbayQuery(client)
 * const sum = useQuery(pb.math.add.queryOptions({ a: 1, b: 2 }))
 * ```
 */
export function createPatchbayQuery<R extends RouterDef>(client: Client<R>): PatchbayQuery<R> {
  return routerNode(client as unknown as Record<string, unknown>) as PatchbayQuery<R>
}
