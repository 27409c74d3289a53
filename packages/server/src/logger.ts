/**
 * The server's logging seam: pino's call shape, `logger.error(fields, message)`, so a pino
 * (or bunyan-style) logger is passed as it is. Patchbay logs what would otherwise go
 * unnoticed: a handler's unexpected exception, which the client only sees as INTERNAL.
 * Fields never carry a token, a header or a call's input.
 */

/** One log method: structured fields first (an error under `err`), then the message. */
export type LogFn = (fields: Record<string, unknown>, message: string) => void

/** What the server logs through; pino's logger fits. */
export interface Logger {
  error: LogFn
  warn: LogFn
  info: LogFn
  debug: LogFn
}

const ignore: LogFn = () => {}

/** Logs nothing. `logger: false` means this. */
export const silentLogger: Logger = Object.freeze({ error: ignore, warn: ignore, info: ignore, debug: ignore })

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
})

/** The `logger` option as a Logger. */
export function resolveLogger(option: Logger | false | undefined): Logger {
  if (option === false) return silentLogger
  return option ?? consoleLogger
}
