/**
 * The logging seam's shape, shared by server and client (types only: nothing reaches a
 * bundle). pino's call shape, `logger.error(fields, message)`, so a pino (or bunyan-style)
 * logger is passed as it is (docs/guide/logging.md).
 */

/** One log method: structured fields first (an error under `err`), then the message. */
export type LogFn = (fields: Record<string, unknown>, message: string) => void

/** The levels Patchbay logs at, most severe first. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug'

/** What Patchbay logs through; pino's logger fits. */
export interface Logger {
  error: LogFn
  warn: LogFn
  info: LogFn
  debug: LogFn
  /**
   * Whether `level` is logged now (pino has it). Patchbay asks before building a line's fields,
   * so a level that is off costs no allocation. Without it, every level counts as on.
   */
  isLevelEnabled?(level: LogLevel): boolean
}
