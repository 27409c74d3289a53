/**
 * `@patchbay/server/testing`: test handlers and whole routers without a port
 * (docs/guide/testing.md). `createCaller` calls a server's procedures and streams in-process;
 * `createTestPair` and `connectInMemory` connect `@patchbay/client` to it in memory.
 */
export { createCaller } from './testing/caller.js'
export type { Caller, CallerCallOptions, CallerOptions, CallerProcedure, CallerStream, CallerStreamOptions } from './testing/caller.js'
export { DEFAULT_NETWORK_BUFFER, connectInMemory, createTestPair } from './testing/pair.js'
export type { InMemoryNetwork, InMemoryOptions, TestPair, TestPairOptions } from './testing/pair.js'
// Types only: connections are made by the pair, never constructed by hand.
export type { MemoryCloseEvent, MemoryConnection, MemoryHandshake } from './adapters/memory.js'
export type { MemoryWebSocket } from './adapters/memory-socket.js'
