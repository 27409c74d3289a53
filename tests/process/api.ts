/**
 * The router the process fixtures serve (fixtures/api.mjs, plain JS so a spawned `node` runs
 * it with no build step), typed for the test process: tsc reads the .mjs (allowJs) and infers
 * its types from the router() and procedure() calls, so there is one definition to keep.
 */
import { api } from './fixtures/api.mjs'

export { api }
export type Api = typeof api
