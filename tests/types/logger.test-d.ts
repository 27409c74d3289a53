/**
 * The server's `logger` takes pino's logger as it is (docs/guide/errors.md): checked against
 * pino's own `LogFn` overloads, copied here, and against pino's own types.
 */
import { describe, expectTypeOf, it } from 'vitest'
import type { Logger, ServerOptions } from '@patchbay/server'
import type { ConnectionFailure, ConnectionFailureKind, Logger as ClientLogger, StateEvent } from '@patchbay/client'
import type { Logger as PinoLogger } from 'pino'

/** pino's LogFn (pino/pino.d.ts), `any` spelled `unknown`. */
interface PinoLogFn {
  <T extends object>(obj: T, msg?: string, ...args: unknown[]): void
  (obj: unknown, msg?: string, ...args: unknown[]): void
  (msg: string, ...args: unknown[]): void
}
interface PinoLike {
  level: string
  fatal: PinoLogFn
  error: PinoLogFn
  warn: PinoLogFn
  info: PinoLogFn
  debug: PinoLogFn
  trace: PinoLogFn
  child(bindings: Record<string, unknown>): PinoLike
}

describe('logger types', () => {
  it('the client exports the same Logger as the server, so one pino fits both', () => {
    expectTypeOf<ClientLogger>().toEqualTypeOf<Logger>()
  })

  it('a pino logger is a Logger; false silences', () => {
    expectTypeOf<PinoLike>().toExtend<Logger>()
    // pino itself (a dev dependency of the tests), `isLevelEnabled` included.
    expectTypeOf<PinoLogger>().toExtend<Logger>()
    expectTypeOf<false>().toExtend<ServerOptions<never, unknown>['logger']>()
  })

  it('a state event carries the typed failure', () => {
    expectTypeOf<StateEvent['failure']>().toEqualTypeOf<ConnectionFailure | undefined>()
    expectTypeOf<ConnectionFailure['kind']>().toEqualTypeOf<ConnectionFailureKind>()
    expectTypeOf<ConnectionFailure>().toExtend<Error>()
  })
})
