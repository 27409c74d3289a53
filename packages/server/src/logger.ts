/**
 * The server's loggers. The seam's type is @patchbay/core's (the client shares it): pino's
 * call shape, `logger.error(fields, message)`, so a pino logger is passed as it is. What is
 * logged, at which level and with which fields is decided in log-events.ts
 * (docs/guide/logging.md). Fields never carry a token, a cookie, a header value or a call's
 * input, at any level.
 */
import type { LogFn, LogLevel, Logger } from '@patchbay/core'

export type { LogFn, LogLevel, Logger }

const ignore: LogFn = () => {}

/** Logs nothing. `logger: false` means this. */
export const silentLogger: Logger = Object.freeze({ error: ignore, warn: ignore, info: ignore, debug: ignore, isLevelEnabled: () => false })

/** `message {fields} error`, with the error last so the console prints its stack. */
function toConsole(write: (...values: unknown[]) => void): LogFn {
  return (fields, message) => {
    const { err, ...rest } = fields
    const values: unknown[] = [`patchbay: ${message}`]
    if (Object.keys(rest).length > 0) values.push(rest)
    if (err !== undefined) values.push(err)
    write(...values)
  }
}

/** The default: errors and warnings to the console (stderr in Node); info and debug dropped. */
export const consoleLogger: Logger = Object.freeze({
  error: toConsole((...values) => console.error(...values)),
  warn: toConsole((...values) => console.warn(...values)),
  info: ignore,
  debug: ignore,
  isLevelEnabled: (level: LogLevel) => level === 'error' || level === 'warn',
})

/** The `logger` option as a Logger. */
export function resolveLogger(option: Logger | false | undefined): Logger {
  if (option === false) return silentLogger
  return option ?? consoleLogger
}

/**
 * Whether `logger` logs at `level` now: its own `isLevelEnabled` when it has one (asked each
 * time: pino's level may be changed while the server runs), else true.
 */
export function levelCheck(logger: Logger): (level: LogLevel) => boolean {
  const check = logger.isLevelEnabled
  if (typeof check !== 'function') return () => true
  return (level) => check.call(logger, level)
}
