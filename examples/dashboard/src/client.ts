/**
 * The page's client: the slim client made from the router's shape (api.shape.ts, written by
 * `patchbay-shape`), so the page bundles no zod (docs/guide/bundling.md); JSON only.
 */
import { createClient } from '@patchbay/client/slim'
import { createPatchbayQuery } from '@patchbay/react'
import { apiShape } from './api.shape.js'

export const client = createClient(apiShape, { url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws` })
/** TanStack Query options for the router's procedures. */
export const pb = createPatchbayQuery(client)
