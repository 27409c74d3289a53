/**
 * Redis Cluster's key slot (CRC16-XMODEM of the key, or of its hash tag, modulo 16384), so
 * the engine knows which master serves a channel without a round trip: its SSUBSCRIBE goes to
 * that master's subscriber connection, and each master's probe channel is picked to fall in
 * one of its own slots. Written here (25 lines) rather than importing `cluster-key-slot`,
 * which ioredis uses internally but which is no dependency of ours.
 */

const TABLE = new Uint16Array(256)
for (let byte = 0; byte < 256; byte++) {
  let crc = byte << 8
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  TABLE[byte] = crc
}

/** Slots in a Redis Cluster. */
export const SLOTS = 16_384

/** The slot of `key`: of its hash tag (the text between the first `{` and the next `}`) when that is not empty. */
export function keySlot(key: string): number {
  let bytes = Buffer.from(key)
  const open = bytes.indexOf(0x7b)
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1)
    if (close > open + 1) bytes = bytes.subarray(open + 1, close)
  }
  let crc = 0
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (TABLE[((crc >> 8) ^ byte) & 0xff] as number)
  return crc % SLOTS
}
