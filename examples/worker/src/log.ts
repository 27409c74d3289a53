/** One JSON object a line on stdout: what each process did, for people and for tests to read. */
export function log(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ...fields, pid: process.pid })}\n`)
}
