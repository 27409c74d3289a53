/**
 * Event data as it is stored in the stream and sent on pub/sub: MessagePack, which keeps
 * every kind of plain data Patchbay admits (binary `Uint8Array`, `undefined`), unlike JSON.
 * Decoded with the options of Patchbay's own msgpack codec (no records, maps as objects).
 */
import { Packr, Unpackr } from 'msgpackr'

const packr = new Packr({ useRecords: false, structuredClone: false })
const unpackr = Object.assign(new Unpackr({ useRecords: false, mapsAsObjects: true, structuredClone: false }), { int64AsType: 'auto' })

/** Encodes event data (already checked as plain data). */
export function pack(data: unknown): Buffer {
  return packr.pack(data)
}

/** Decodes event data. */
export function unpack(bytes: Uint8Array): unknown {
  return unpackr.unpack(bytes)
}

const COLON = 0x3a

/** A pub/sub message `<seq>:<epoch>:<data>`, or undefined when it is not one. */
export function parseMessage(message: Buffer): { seq: number; epoch: string; data: unknown } | undefined {
  const first = message.indexOf(COLON)
  const second = first < 0 ? -1 : message.indexOf(COLON, first + 1)
  if (second < 0) return undefined
  const seq = Number(message.toString('latin1', 0, first))
  if (!Number.isSafeInteger(seq) || seq <= 0) return undefined
  try {
    return { seq, epoch: message.toString('latin1', first + 1, second), data: unpack(message.subarray(second + 1)) }
  } catch {
    return undefined
  }
}
