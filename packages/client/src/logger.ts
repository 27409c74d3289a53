/**
 * The client's log (docs/guide/logging.md). Its events are rare (state changes, a violation,
 * a listener's exception, a lag), so the `logger` option is used as it is, and kept this
 * small for the browser bundle: `false` is an empty object, whose absent methods build
 * nothing (`log.warn?.(…)`); pino's methods for a level that is off are no-ops.
 */
import type { LogFn, Logger } from '@patchbay/core'

/** The `logger` option as the client calls it: any method may be absent. */
export type ClientLog = Partial<Logger>

const toConsole =
  (level: 'error' | 'warn'): LogFn =>
  (fields, message) =>
    console[level](`patchbay: ${message}`, fields)

/**
 * The default (undefined): errors and warnings to the console, since the exceptions the client
 * catches and the violations it closes for would otherwise go unseen; info and debug dropped.
 * `false`: nothing at all.
 */
export function resolveLog(logger: Logger | false | undefined): ClientLog {
  return logger === undefined ? { error: toConsole('error'), warn: toConsole('warn') } : logger || {}
}
