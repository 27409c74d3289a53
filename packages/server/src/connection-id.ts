/**
 * Connection ids. Runtime-free (nanoid picks its random source per runtime).
 */
import { nanoid } from 'nanoid'

/** A new connection's id: a nanoid (21 URL-safe characters) held as one flat string. */
export function connectionId(): string {
  const id = nanoid()
  // nanoid appends one character at a time, and V8 keeps the result as a chain of cons
  // strings (~290 bytes for 21 characters) until something reads it flat. The id lives as
  // long as its connection, so read it now: V8 flattens the chain into one ~40-byte string.
  void id.charCodeAt(0)
  return id
}
