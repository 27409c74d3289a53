/**
 * The tag and id of a MessagePack frame that msgpackr could not turn into values although
 * its bytes are well-formed: nesting deeper than msgpackr's recursion survives, or a map key
 * that is a byte array, an array, a map or an extension (a JavaScript object key cannot be
 * one). JSON cannot express either, and a JSON frame nested as deep still decodes and earns a
 * BAD_REQUEST from the plain-data walk; reading the envelope lets a msgpack frame earn the
 * same answer for its id instead of a close (docs/protocol.md §9).
 *
 * The walk builds no values and is iterative: a frame of any depth costs one pass over its
 * bytes, and it runs only for frames msgpackr refused.
 */

/** Elements 0 and 1 of a well-formed frame's array (§3); `undefined` when the bytes are not MessagePack. */
export interface Envelope {
  /** False when the frame's value is not an array: it names no request (§3). */
  array: boolean
  tag: unknown
  id: unknown
}

/** Reads the frame's top-level array for its tag and id, checking that the whole frame is well-formed. */
export function readMsgpackEnvelope(bytes: Uint8Array): Envelope | undefined {
  const reader = new Reader(bytes)
  const elements = reader.arrayHeader()
  if (elements === undefined) {
    // Not an array (a map, say): well-formed or not, it names no request, and earns the
    // violation any other frame that is not an array does.
    return reader.skip(1) && reader.atEnd ? { array: false, tag: undefined, id: undefined } : undefined
  }
  const envelope: Envelope = { array: true, tag: undefined, id: undefined }
  if (elements > 0) envelope.tag = reader.integer()
  if (elements > 1 && !reader.failed) envelope.id = reader.integer()
  if (reader.failed) return undefined
  if (elements > 2) reader.skip(elements - 2)
  return reader.atEnd ? envelope : undefined
}

class Reader {
  private at = 0
  private readonly view: DataView
  failed = false

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  get atEnd(): boolean {
    return !this.failed && this.at === this.bytes.length
  }

  private has(count: number): boolean {
    if (this.at + count <= this.bytes.length) return true
    this.failed = true
    return false
  }

  /** An array's length, consumed; anything else is left unread (undefined). */
  arrayHeader(): number | undefined {
    if (!this.has(1)) return undefined
    const type = this.bytes[this.at] as number
    if (type >= 0x90 && type <= 0x9f) {
      this.at++
      return type & 0x0f
    }
    if (type === 0xdc && this.has(3)) {
      this.at += 3
      return this.view.getUint16(this.at - 2)
    }
    if (type === 0xdd && this.has(5)) {
      this.at += 5
      return this.view.getUint32(this.at - 4)
    }
    return undefined
  }

  /**
   * A number in any MessagePack integer or float format, consumed, as msgpackr reads it (the
   * parser then decides whether it is an integer); anything else is skipped (undefined).
   */
  integer(): number | bigint | undefined {
    if (!this.has(1)) return undefined
    const type = this.bytes[this.at] as number
    if (type <= 0x7f || type >= 0xe0) {
      this.at++
      // Negative fixint: 111xxxxx is -32..-1.
      return type <= 0x7f ? type : type - 0x100
    }
    const width = INT_WIDTH[type]
    if (width === undefined) {
      this.skip(1)
      return undefined
    }
    if (!this.has(1 + width)) return undefined
    const at = this.at + 1
    this.at = at + width
    switch (type) {
      case 0xcc: return this.view.getUint8(at)
      case 0xcd: return this.view.getUint16(at)
      case 0xce: return this.view.getUint32(at)
      case 0xcf: return asNumber(this.view.getBigUint64(at))
      case 0xd0: return this.view.getInt8(at)
      case 0xd1: return this.view.getInt16(at)
      case 0xd2: return this.view.getInt32(at)
      case 0xd3: return asNumber(this.view.getBigInt64(at))
      case 0xca: return this.view.getFloat32(at)
      default: return this.view.getFloat64(at)
    }
  }

  /** Skips `count` whole values of any depth; false (and `failed`) if the bytes end first. */
  skip(count: number): boolean {
    let pending = count
    while (pending > 0) {
      // Every value takes at least one byte: more pending than bytes left cannot be well-formed.
      if (pending > this.bytes.length - this.at || !this.has(1)) {
        this.failed = true
        return false
      }
      pending--
      const type = this.bytes[this.at++] as number
      if (type <= 0x7f || type >= 0xe0 || (type >= 0xc0 && type <= 0xc3)) {
        if (type === 0xc1) return this.fail() // never used
        continue
      }
      if (type <= 0x8f) pending += 2 * (type & 0x0f)
      else if (type <= 0x9f) pending += type & 0x0f
      else if (type <= 0xbf) this.at += type & 0x1f
      else {
        const step = STEP[type]
        if (step === undefined) return this.fail()
        if (!this.has(step.header)) return false
        const length = step.header === 0 ? 0 : step.header === 1 ? (this.bytes[this.at] as number) : step.header === 2 ? this.view.getUint16(this.at) : this.view.getUint32(this.at)
        this.at += step.header
        if (step.kind === 'bytes') this.at += length + step.extra
        else if (step.kind === 'array') pending += length
        else if (step.kind === 'map') pending += 2 * length
        else this.at += step.extra
      }
      if (this.at > this.bytes.length) return this.fail()
    }
    return true
  }

  private fail(): false {
    this.failed = true
    return false
  }
}

const LIMIT = 2n ** 53n

/** A 64-bit integer as the codec reads it (int64AsType 'auto'): a number within ±2^53. */
function asNumber(value: bigint): number | bigint {
  return value <= LIMIT && value >= -LIMIT ? Number(value) : value
}

const INT_WIDTH: Readonly<Record<number, number>> = { 0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, 0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8, 0xca: 4, 0xcb: 8 }

/**
 * How to step over each type from 0xc4 on: `header` bytes of length (0 for fixed sizes), then
 * `length` plus `extra` bytes (str, bin, ext: the ext type byte is `extra`), or `length`
 * values (array) or pairs (map); fixed-size types move by `extra`.
 */
const STEP: Readonly<Record<number, { kind: 'bytes' | 'array' | 'map' | 'fixed'; header: 0 | 1 | 2 | 4; extra: number }>> = {
  0xc4: { kind: 'bytes', header: 1, extra: 0 },
  0xc5: { kind: 'bytes', header: 2, extra: 0 },
  0xc6: { kind: 'bytes', header: 4, extra: 0 },
  0xc7: { kind: 'bytes', header: 1, extra: 1 },
  0xc8: { kind: 'bytes', header: 2, extra: 1 },
  0xc9: { kind: 'bytes', header: 4, extra: 1 },
  0xca: { kind: 'fixed', header: 0, extra: 4 },
  0xcb: { kind: 'fixed', header: 0, extra: 8 },
  0xcc: { kind: 'fixed', header: 0, extra: 1 },
  0xcd: { kind: 'fixed', header: 0, extra: 2 },
  0xce: { kind: 'fixed', header: 0, extra: 4 },
  0xcf: { kind: 'fixed', header: 0, extra: 8 },
  0xd0: { kind: 'fixed', header: 0, extra: 1 },
  0xd1: { kind: 'fixed', header: 0, extra: 2 },
  0xd2: { kind: 'fixed', header: 0, extra: 4 },
  0xd3: { kind: 'fixed', header: 0, extra: 8 },
  0xd4: { kind: 'fixed', header: 0, extra: 2 },
  0xd5: { kind: 'fixed', header: 0, extra: 3 },
  0xd6: { kind: 'fixed', header: 0, extra: 5 },
  0xd7: { kind: 'fixed', header: 0, extra: 9 },
  0xd8: { kind: 'fixed', header: 0, extra: 17 },
  0xd9: { kind: 'bytes', header: 1, extra: 0 },
  0xda: { kind: 'bytes', header: 2, extra: 0 },
  0xdb: { kind: 'bytes', header: 4, extra: 0 },
  0xdc: { kind: 'array', header: 2, extra: 0 },
  0xdd: { kind: 'array', header: 4, extra: 0 },
  0xde: { kind: 'map', header: 2, extra: 0 },
  0xdf: { kind: 'map', header: 4, extra: 0 },
}
