/**
 * The check every decoded payload passes before it reaches a schema or a handler
 * (docs/protocol.md §9). Decoders may build values the protocol never sends (msgpackr's
 * built-in extensions make Dates, RegExps, Sets, BigInts, Errors and typed arrays; JSON
 * makes own `__proto__` keys that a later `Object.assign` would turn into a prototype).
 * This walk admits only plain data, bounded in depth, and says what it refused.
 */

const objectPrototype = Object.prototype

/**
 * Returns `undefined` when `value` is plain data no deeper than `maxDepth` (less `offset`
 * levels that enclose it), otherwise a
 * short description of the first problem. Plain data: null, undefined, booleans, numbers,
 * strings, `Uint8Array` (msgpack `bin`), arrays and plain objects without a `__proto__` key.
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
    case 'number':
    case 'boolean':
    case 'undefined':
      return undefined
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
      if (key === '__proto__') return 'forbidden key "__proto__"'
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

function isBufferLike(value: Uint8Array): boolean {
  const name = value.constructor?.name
  return name === 'Buffer' || name === 'FastBuffer'
}

function describe(value: object): string {
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name
  return typeof name === 'string' && name !== '' ? name : 'with a foreign prototype'
}
