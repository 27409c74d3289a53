/**
 * The browser half of the feature suite: the Patchbay client on Chromium's own WebSocket,
 * exposed as `window.patchbay` for the test to drive with page.evaluate.
 */
import { createClient } from '@patchbay/client'
import { api } from './api.js'

declare global {
  interface Window {
    patchbay: { createClient: typeof createClient; api: typeof api }
  }
}

window.patchbay = { createClient, api }
