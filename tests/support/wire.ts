/**
 * docs/protocol.md §3, written again from the document for the tests that speak raw frames:
 * the array a message is on the wire, and the object a test writes and reads. It is kept apart
 * from @patchbay/core's own writer and parser on purpose, so a test that sends `toWire(...)`
 * checks the server against the document rather than against the code under test.
 *
 * A message object is `{ t, ...fields }` with §4–§15's field names; a request's meta fields
 * (`key`, `resume`, `received`, `traceparent`, `tracestate`) sit beside the others and go into
 * element 3's map. An object whose `t` is not a type of §3, or anything that is not an object,
 * is sent as it is, so a test can still send a frame that is not an array.
 */

/** §3's tags. */
export const TAG = {
  call: 1,
  result: 2,
  error: 3,
  cancel: 4,
  ping: 5,
  pong: 6,
  sub: 7,
  unsub: 8,
  pub: 9,
  event: 10,
  lag: 11,
  stream: 12,
  credit: 13,
  item: 14,
} as const

export type MessageTypeName = keyof typeof TAG

const NAMES: Record<number, MessageTypeName> = Object.fromEntries(Object.entries(TAG).map(([name, tag]) => [tag, name])) as Record<number, MessageTypeName>

/** A message as tests write it: its type and its fields by name. */
export type WireMessage = { t: string } & Record<string, unknown>

const META_FIELDS: Readonly<Record<string, readonly string[]>> = {
  call: ['key', 'traceparent', 'tracestate'],
  sub: ['resume', 'traceparent', 'tracestate'],
  pub: ['traceparent', 'tracestate'],
  stream: ['received', 'traceparent', 'tracestate'],
}

/** Each type's elements after the tag, in order (`meta` is element 3 of a request). */
const LAYOUT: Readonly<Record<MessageTypeName, readonly string[]>> = {
  call: ['id', 'path', 'meta', 'input'],
  result: ['id', 'output'],
  error: ['id', 'error'],
  cancel: ['id'],
  ping: [],
  pong: [],
  sub: ['id', 'path', 'meta', 'params'],
  unsub: ['id'],
  pub: ['id', 'path', 'meta', 'data', 'params'],
  event: ['ch', 'seq', 'data'],
  lag: ['ch', 'seq', 'missed', 'epoch'],
  stream: ['id', 'path', 'meta', 'credit', 'input'],
  credit: ['id', 'n'],
  item: ['id', 'data'],
}

function isMessageObject(value: unknown): value is WireMessage {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(TAG, (value as { t?: unknown }).t as string)
}

/**
 * The array that carries `message` (§3): its tag, then its fields in order; an absent field
 * before a present one is null, and the array ends at its last present field. Anything that
 * is not a message object of a known type is returned as it is.
 */
export function toWire(message: unknown): unknown {
  if (!isMessageObject(message)) return message
  const type = message.t as MessageTypeName
  const fields = LAYOUT[type]
  const elements: unknown[] = [TAG[type]]
  for (const field of fields) {
    if (field === 'meta') {
      let meta: Record<string, unknown> | null = null
      for (const name of META_FIELDS[type] ?? []) {
        if (message[name] !== undefined) (meta ??= {})[name] = message[name]
      }
      // A test may also give the meta element whole (`meta: 'nope'`), to send a bad one.
      elements.push(Object.hasOwn(message, 'meta') ? message.meta : meta)
    } else elements.push(message[field])
  }
  while (elements.length > 1 && elements[elements.length - 1] === undefined) elements.pop()
  for (let i = 0; i < elements.length; i++) if (elements[i] === undefined) elements[i] = null
  // A request without meta and nothing after it ends before its meta element.
  if (META_FIELDS[type] !== undefined && elements.length === 4 && elements[3] === null && !Object.hasOwn(message, 'meta')) elements.pop()
  return elements
}

/**
 * The message object a decoded frame holds: `{ t, ...fields }`, a field present only when its
 * element is (a null meta, or a lag's null `missed`, is left out). Anything that is not an
 * array with a known tag is returned as it is.
 */
export function fromWire(frame: unknown): unknown {
  if (!Array.isArray(frame) || typeof frame[0] !== 'number') return frame
  const type = NAMES[frame[0]]
  if (type === undefined) return frame
  const message: WireMessage = { t: type }
  LAYOUT[type].forEach((field, index) => {
    const at = index + 1
    if (at >= frame.length) return
    const value: unknown = frame[at]
    if (field === 'meta') {
      if (value !== null && typeof value === 'object') Object.assign(message, value)
      return
    }
    if (type === 'lag' && value === null) return
    message[field] = value
  })
  return message
}
