/**
 * `@patchbay/server/testing`: test handlers and whole routers without a port
 * (docs/guide/testing.md). `createCaller` calls a server's procedures and streams in-process;
 * `createTestPair` and `connectInMemory` connect `@patchbay/client` to it in memory.
 */
export { createCaller } from './testing/caller.js'
export type { Caller, CallerCallOptions, CallerOptions, CallerProcedure, CallerStream, CallerStreamOptions } from './testing/caller.js'
export { DEFAULT_NETWORK_BUFFER, connectInMemory, createTestPair } from './testing/pair.js'
export type { InMemoryNetwork, InMemoryOptions, TestPair, TestPairOptions } from './testing/pair.js'
export { MemoryConnection, MemoryWebSocket } from './adapters/memory.js'
export type { MemoryCloseEvent, MemoryHandshake } from './adapters/memory.js'
