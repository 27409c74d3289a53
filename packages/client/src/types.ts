import type { AnyProcedure, Encoding, InferProcedureInput, InferProcedureOutput, RouterDef } from '@patchbay/core'
import type { ConnectionState } from './connection.js'
import type { CallOptions, ClientStats } from './request-manager.js'

/** The function a procedure becomes on the client. Procedures without input take none. */
export type ProcedureCall<P extends AnyProcedure> = undefined extends InferProcedureInput<P>
  ? (input?: InferProcedureInput<P>, options?: CallOptions) => Promise<InferProcedureOutput<P>>
  : (input: InferProcedureInput<P>, options?: CallOptions) => Promise<InferProcedureOutput<P>>

/** The router's procedures, as callable functions in the router's shape. */
export type ClientProcedures<R extends RouterDef> = {
  readonly [K in keyof R]: R[K] extends AnyProcedure ? ProcedureCall<R[K]> : R[K] extends RouterDef ? ClientProcedures<R[K]> : never
}

/** A state change of the client's connection. */
export interface StateEvent {
  state: ConnectionState
  /** The close code, on `closed`. */
  code?: number
  /** The close reason, on `closed`. */
  reason?: string
}

/** The client's own members, beside the procedures. */
export interface ClientControls {
  /** The connection state. */
  readonly state: ConnectionState
  /** The negotiated encoding; undefined until open. */
  readonly encoding: Encoding | undefined
  /** Counters. */
  readonly stats: Readonly<ClientStats>
  /** Bytes the socket has queued but not yet sent. */
  readonly bufferedAmount: number
  /** Resolves when the connection is open; rejects with CONNECTION_FAILED if it cannot open. */
  connect(): Promise<void>
  /** Closes the connection (1000); calls in flight fail with CONNECTION_LOST. Resolves once closed. */
  close(): Promise<void>
  /** Listens for state changes; returns a function that stops listening. */
  on(event: 'state', listener: (event: StateEvent) => void): () => void
}

/** A typed client for router `R`. */
export type Client<R extends RouterDef> = ClientProcedures<R> & ClientControls
