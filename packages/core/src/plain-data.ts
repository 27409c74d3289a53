/**
 * The check every decoded payload passes before it reaches a schema or a handler
 * (docs/protocol.md §9). Decoders may build values the protocol never sends (msgpackr's
 * built-in extensions make Dates, RegExps, Sets, BigInts, Errors and typed arrays; JSON
 * makes own `__proto__` keys that a later `Object.assign` would turn into a prototype).
 * This walk admits only plain data, bounded in depth, and says what it refused.
 */
import type { WireError } from './errors.js'

const objectPrototype = Object.prototype

/**
 * Returns `undefined` when `value` is plain data no deeper than `maxDepth` (less `offset`
 * levels that enclose it), otherwise a
 * short description of the first problem. Plain data: null, undefined, booleans, finite
 * numbers, strings, `Uint8Array` (msgpack `bin`), arrays and plain objects without a
 * `__proto__` (or `__proto_`) key.
 * Recursion is bounded by `maxDepth`, so the walk itself cannot overflow the stack.
 */
export function findNonPlainData(value: unknown, maxDepth: number, offset = 0): string | undefined {
  return walk(value, maxDepth - offset, 0, offset)
}

// `offset` counts levels above `value` (the envelope around an input), so the message names
// the limit as configured rather than what is left of it.
function walk(value: unknown, maxDepth: number, depth: number, offset: number): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return undefined
    case 'number':
      // JSON cannot carry NaN or ±Infinity (JSON.stringify writes null): refused in both
      // encodings alike, so a value never changes on the way.
      return value - value === 0 ? undefined : `non-finite number ${String(value)}`
    case 'object':
      break
    default:
      return `unsupported value of type ${typeof value}`
  }
  if (value === null) return undefined
  if (depth >= maxDepth) return `nesting deeper than ${maxDepth + offset} (maxDepth)`
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = walk(value[i], maxDepth, depth + 1, offset)
      if (problem !== undefined) return problem
    }
    return undefined
  }
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto === objectPrototype || proto === null) {
    for (const key in value) {
      // msgpackr reads a `__proto__` map key as `__proto_`, so that key is refused as well:
      // one outcome in both encodings (docs/protocol.md §9).
      if (key === '__proto__' || key === '__proto_') return `forbidden key "${key}"`
      const problem = walk((value as Record<string, unknown>)[key], maxDepth, depth + 1, offset)
      if (problem !== undefined) return problem
    }
    // A JSON `__proto__` key is an own property that for-in lists; checked above. A
    // non-enumerable one cannot come out of a decoder.
    return undefined
  }
  // Checked after plain objects because it is rare; Buffer is a Uint8Array subclass.
  if (value instanceof Uint8Array && (proto === Uint8Array.prototype || isBufferLike(value))) {
    return undefined
  }
  return `unsupported object ${describe(value)}`
}

/**
 * False when JSON text `text` cannot decode to an object with a `__proto__` key:
 * it neither spells one nor holds a `\u` escape that could (JSON.parse reads
 * `"\u005f_proto__"` as `__proto__`). Two native substring searches, so a client runs the
 * walk below only for the rare frame that may hold such a key (docs/protocol.md §9, "The
 * other direction"). JSON.stringify writes `\u` only for control characters without a short
 * escape and lone surrogates, so an honest frame takes the walk only when its strings hold those.
 */
export function mayHoldProtoKey(text: string): boolean {
  return text.includes('__proto__') || text.includes('\\u')
}

/**
 * True when a `__proto__` key is anywhere in `value` (a decoded frame). JSON.parse makes
 * such a key an own property, which a later `Object.assign` or a naive deep merge turns into
 * the target's prototype. Iterative, so any nesting JSON.parse built is walked without a
 * depth limit.
 */
export function hasProtoKey(value: unknown): boolean {
  const pending: unknown[] = [value]
  while (pending.length > 0) {
    const next = pending.pop()
    if (typeof next !== 'object' || next === null) continue
    // Arrays too: `for…in` gives their indices (this runs only for the rare suspect frame).
    for (const key in next) {
      if (key === '__proto__') return true
      pending.push((next as Record<string, unknown>)[key])
    }
  }
  return false
}

function isBufferLike(value: Uint8Array): boolean {
  const name = value.constructor?.name
  return name === 'Buffer' || name === 'FastBuffer'
}

function describe(value: object): string {
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name
  return typeof name === 'string' && name !== '' ? name : 'with a foreign prototype'
}

/**
 * `error` as it may be sent (docs/protocol.md §6): its `data` and `issues` are kept only when
 * they are plain data within `maxDepth` (an `error` message nests them two levels down) and
 * `issues` has its documented shape; otherwise they are dropped and the code and message go
 * alone. An error without either is returned as it is, so the common case costs nothing.
 */
export function sendableError(error: WireError, maxDepth: number): WireError {
  const { data, issues } = error
  if (data === undefined && issues === undefined) return error
  const out: WireError = { code: error.code, message: error.message }
  if (data !== undefined && findNonPlainData(data, maxDepth, 2) === undefined) out.data = data
  if (issues !== undefined && isIssueList(issues) && findNonPlainData(issues, maxDepth, 2) === undefined) out.issues = issues
  return out
}

function isIssueList(issues: unknown): boolean {
  if (!Array.isArray(issues)) return false
  for (const issue of issues as unknown[]) {
    if (typeof issue !== 'object' || issue === null || typeof (issue as { message?: unknown }).message !== 'string') return false
    const path = (issue as { path?: unknown }).path
    if (path === undefined) continue
    if (!Array.isArray(path) || !(path as unknown[]).every((key) => typeof key === 'string' || typeof key === 'number')) return false
  }
  return true
}
