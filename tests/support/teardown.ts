/**
 * The teardown most client and end-to-end test files share: after each test, close every
 * client it opened, then run `after` (close the server, reset the file's own state). Clients
 * go first: their closing handshakes need the server.
 */
import { afterEach } from 'vitest'

/** Anything with a close, awaited if it returns a promise. */
export interface Closable {
  close(): unknown
}

/** Registers the teardown; returns the list a test adds its clients to. */
export function closeAfterEach<C extends Closable>(after: () => unknown): C[] {
  const clients: C[] = []
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()))
    await after()
  })
  return clients
}
