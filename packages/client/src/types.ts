import type {
  AnyProcedure,
  AnyStream,
  AnyTopic,
  InferStreamInput,
  InferStreamItem,
  Encoding,
  InferProcedureInput,
  InferProcedureOutput,
  InferTopicMessage,
  InferTopicMessageInput,
  InferTopicParams,
  RouterDef,
  Schema,
  Topic,
} from '@patchbay/core'
import type { ConnectionState } from './connection.js'
import type { ConnectionFailure } from './connection-failure.js'
import type { IterateOptions } from './iterate.js'
import type { CallOptions, ClientStats } from './request-manager.js'
import type { StreamOptions } from './stream.js'
import type { SubscribeOptions, TopicListener, Unsubscribe } from './subscriptions.js'

/** The function a procedure becomes on the client. Procedures without input take none. */
export type ProcedureCall<P extends AnyProcedure> = undefined extends InferProcedureInput<P>
  ? (input?: InferProcedureInput<P>, options?: CallOptions) => Promise<InferProcedureOutput<P>>
  : (input: InferProcedureInput<P>, options?: CallOptions) => Promise<InferProcedureOutput<P>>

/** The function a stream becomes on the client: its items as an async iterator. */
export type StreamCall<S extends AnyStream> = undefined extends InferStreamInput<S>
  ? (input?: InferStreamInput<S>, options?: StreamOptions) => AsyncIterableIterator<InferStreamItem<S>>
  : (input: InferStreamInput<S>, options?: StreamOptions) => AsyncIterableIterator<InferStreamItem<S>>

/**
 * A topic on the client. Topics without a params schema take no params argument; a topic with
 * one takes params first, even when its schema accepts undefined (`z.object(…).optional()`):
 * then undefined is passed as a value. The client tells the two apart by the schema's
 * presence, as the router's shape does, since no schema is at hand in a browser bundle.
 */
export type ClientTopic<T extends AnyTopic> = [TopicParamsSchema<T>] extends [undefined]
  ? {
      /** Listens until the returned function is called; `.ready` resolves once the server confirms. */
      subscribe(listener: TopicListener<InferTopicMessage<T>>, options?: SubscribeOptions): Unsubscribe
      /** The topic's messages as an async iterable; leaving the loop unsubscribes. */
      iterate(options?: IterateOptions): AsyncIterableIterator<InferTopicMessage<T>>
      /** Publishes, where the topic lets clients; resolves with how many connections got it. */
      publish(message: InferTopicMessageInput<T>, options?: CallOptions): Promise<{ delivered: number }>
    }
  : {
      /** Listens until the returned function is called; `.ready` resolves once the server confirms. */
      subscribe(params: InferTopicParams<T>, listener: TopicListener<InferTopicMessage<T>>, options?: SubscribeOptions): Unsubscribe
      /** The topic's messages as an async iterable; leaving the loop unsubscribes. */
      iterate(params: InferTopicParams<T>, options?: IterateOptions): AsyncIterableIterator<InferTopicMessage<T>>
      /** Publishes, where the topic lets clients; resolves with how many connections got it. */
      publish(params: InferTopicParams<T>, message: InferTopicMessageInput<T>, options?: CallOptions): Promise<{ delivered: number }>
    }

/** A topic's params schema; undefined for a topic without one. */
type TopicParamsSchema<T> = T extends Topic<infer P, Schema> ? P : never

/** The router's procedures and topics, in the router's shape. */
export type ClientProcedures<R extends RouterDef> = {
  readonly [K in keyof R]: R[K] extends AnyProcedure
    ? ProcedureCall<R[K]>
    : R[K] extends AnyStream
      ? StreamCall<R[K]>
      : R[K] extends AnyTopic
        ? ClientTopic<R[K]>
        : R[K] extends RouterDef
          ? ClientProcedures<R[K]>
          : never
}

/**
 * The client's state: the WebSocket API's names, plus `reconnecting` between connections and
 * `idle` for a lazy client before its first use.
 */
export type ClientState = ConnectionState | 'reconnecting' | 'idle'

/** A state change of the client's connection. */
export interface StateEvent {
  state: ClientState
  /** The close code, on `closed` and `reconnecting`. */
  code?: number
  /** The close reason, on `closed`. */
  reason?: string
  /**
   * Why the attempt failed or the connection ended, on `reconnecting` and `closed` when the
   * client knows (ECONNREFUSED, an HTTP 401 with its body, no shared subprotocol…).
   */
  failure?: ConnectionFailure
}

/** The client's own members, beside the procedures. */
export interface ClientControls {
  /** The connection state. */
  readonly state: ClientState
  /** The negotiated encoding; undefined until open. */
  readonly encoding: Encoding | undefined
  /** Counters. */
  readonly stats: Readonly<ClientStats>
  /** Bytes the socket has queued but not yet sent. */
  readonly bufferedAmount: number
  /**
   * Resolves when requests can go out at once again: nothing waits in the send queue and
   * the socket is below `highWaterMark`. Rejects with CONNECTION_LOST if the client closes first.
   */
  drained(): Promise<void>
  /**
   * Resolves when the connection is open (at once if it is); rejects with CONNECTION_FAILED,
   * its `cause` a `ConnectionFailure`, as soon as the client ends without one: a fatal failure,
   * reconnecting gave up after `retries`, or `close()`.
   */
  connect(): Promise<void>
  /** Closes the connection (1000); calls in flight fail with CONNECTION_LOST. Resolves once closed. */
  close(): Promise<void>
  /** Listens for state changes; returns a function that stops listening. */
  on(event: 'state', listener: (event: StateEvent) => void): () => void
}

/** A typed client for router `R`. */
export type Client<R extends RouterDef> = ClientProcedures<R> & ClientControls
