/**
 * The browser half of the feature suite: the Patchbay client on Chromium's own WebSocket,
 * exposed as `window.patchbay` for the test to drive with page.evaluate.
 */
import { createClient } from '@patchbay/client'
import { msgpackCodec } from '@patchbay/client/msgpack'
import { jsonCodec, type Codec } from '@patchbay/core'
import { api } from './api.js'

/** The codec offering each encoding: the page bundles msgpackr because it offers msgpack. */
const codecs: Record<'json' | 'msgpack', Codec> = { json: jsonCodec, msgpack: msgpackCodec }

declare global {
  interface Window {
    patchbay: { createClient: typeof createClient; api: typeof api; codecs: typeof codecs }
  }
}

window.patchbay = { createClient, api, codecs }
